/** Binding the sidecar's listeners: the `::` fallback and the accept-error logger. */
import type { Server } from 'node:http';
import type { Logger } from '../log/logger.js';

/**
 * `::` is dual-stack (libuv clears IPV6_V6ONLY), the injected default. On a kernel booted without
 * IPv6 the socket cannot exist (EAFNOSUPPORT): there is no IPv6 traffic to serve there, so the
 * IPv4 wildcard serves every client the capture rules can redirect.
 */
export async function listen(
  server: Server,
  host: string,
  port: number,
  onError: AcceptErrors,
): Promise<void> {
  try {
    await listenOnce(server, host, port, onError);
  } catch (err) {
    if (host !== '::' || (err as NodeJS.ErrnoException).code !== 'EAFNOSUPPORT') throw err;
    await listenOnce(server, '0.0.0.0', port, onError);
  }
}

export type AcceptErrors = (err: NodeJS.ErrnoException) => void;

function listenOnce(server: Server, host: string, port: number, onAcceptError: AcceptErrors): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      // After listen, a server's 'error' is a failed accept (EMFILE, ENFILE): the listener stays
      // open and serves the connections it can, so the error is counted in the log, never fatal.
      server.on('error', onAcceptError);
      resolve();
    });
  });
}

/** At most one log line per 10 s: a descriptor shortage fails every accept until it passes. */
export function acceptErrorLogger(log: Logger): AcceptErrors {
  let last = 0;
  return (err) => {
    const now = Date.now();
    if (now - last < 10_000) return;
    last = now;
    log.error({ code: err.code, err: err.message }, 'accept failed; still serving');
  };
}

/**
 * Stop accepting, let in-flight requests finish (their responses say `connection: close`),
 * closing each keep-alive socket as soon as it goes idle; cut what is left after `graceMs`.
 */
export async function drain(server: Server, graceMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  const idle = setInterval(() => server.closeIdleConnections(), 50);
  const timer = setTimeout(() => server.closeAllConnections(), graceMs);
  server.closeIdleConnections();
  await closed;
  clearInterval(idle);
  clearTimeout(timer);
}

/** Close at once, cutting open connections (the admin listener). */
export async function closeNow(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
