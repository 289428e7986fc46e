/**
 * The operator's HTTPS server (fastify, TLS only): the sidecars' config stream and the admission
 * webhook are fastify plugins registered on it. The TLS context is swapped in place
 * (`setSecureContext`) when the serving Secret changes: new handshakes get the new certificate,
 * open streams keep theirs.
 *
 * TLS session tickets are encrypted with keys derived from the serving key (`ticketKeysFor`), so
 * every replica, and a replica restarted, resumes the sessions of the others: a thousand
 * sidecars reconnecting after an outage skip the handshake's certificate signature and chain
 * check. Whoever holds those keys holds the serving key already (it is in the same Secret); a
 * new key means new ticket keys, and tickets of the old one fall back to a full handshake.
 */
import Fastify, {
  LogController,
  type FastifyInstance,
  type FastifyPluginAsync,
  type FastifyPluginCallback,
} from 'fastify';
import { createPrivateKey, hkdfSync } from 'node:crypto';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { ListenAddress } from '../../config/listen.js';
import type { Logger } from '../../log/logger.js';

export interface ServingTls {
  readonly certPem: string;
  readonly keyPem: string;
}

/** A plugin and its options, as `fastify.register` takes them. */
export interface ServingPlugin {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly plugin: FastifyPluginAsync<any> | FastifyPluginCallback<any>;
  readonly options?: Record<string, unknown>;
}

export interface ServingServerOptions {
  readonly tls: ServingTls;
  readonly log: Logger;
  readonly plugins?: readonly ServingPlugin[];
  /** Longest request body (AdmissionReviews of big pods fit; acks are tiny). */
  readonly bodyLimit?: number;
}

export interface ServingServer {
  readonly app: FastifyInstance<HttpsServer>;
  /** Binds; resolves with the bound address (port 0 → the port picked). */
  listen(at: ListenAddress): Promise<AddressInfo>;
  /** New handshakes use `tls` from now on. */
  reload(tls: ServingTls): void;
  close(): Promise<void>;
}

/** How long a session stays resumable: a sidecar reconnecting after a long outage still resumes. */
export const SESSION_TIMEOUT_S = 24 * 60 * 60;

/**
 * The same on every replica: Node's default is a hash of the process's argv, which differs
 * between replicas (and restarts with other flags) and would refuse every resumption.
 */
const SESSION_ID_CONTEXT = 'tokenwarden-operator';

/** The 48 bytes of session ticket keys (name, HMAC, AES) the serving key `keyPem` implies. */
export function ticketKeysFor(keyPem: string): Buffer {
  const der = createPrivateKey(keyPem).export({ type: 'pkcs8', format: 'der' });
  return Buffer.from(hkdfSync('sha256', der, Buffer.alloc(0), 'tokenwarden tls session ticket keys v1', 48));
}

export async function createServingServer(o: ServingServerOptions): Promise<ServingServer> {
  const app = Fastify({
    https: {
      cert: o.tls.certPem,
      key: o.tls.keyPem,
      minVersion: 'TLSv1.2',
      ticketKeys: ticketKeysFor(o.tls.keyPem),
      sessionTimeout: SESSION_TIMEOUT_S,
      sessionIdContext: SESSION_ID_CONTEXT,
    },
    loggerInstance: o.log,
    // Per-request lines at debug: a thousand sidecars acking every 5 s must not flood the log.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: o.bodyLimit ?? 4 * 1024 * 1024,
    // Streams are long-lived by design; the sidecars' heartbeats detect a dead peer.
    requestTimeout: 0,
    keepAliveTimeout: 75_000,
    forceCloseConnections: true,
    return503OnClosing: true,
  }) as unknown as FastifyInstance<HttpsServer>;
  for (const p of o.plugins ?? []) await app.register(p.plugin, p.options ?? {});
  await app.ready();
  return {
    app,
    async listen(at) {
      await app.listen({ host: at.host, port: at.port });
      return app.server.address() as AddressInfo;
    },
    reload(tls) {
      app.server.setSecureContext({
        cert: tls.certPem,
        key: tls.keyPem,
        sessionTimeout: SESSION_TIMEOUT_S,
        sessionIdContext: SESSION_ID_CONTEXT,
      });
      app.server.setTicketKeys(ticketKeysFor(tls.keyPem));
      o.log.info('serving certificate reloaded');
    },
    close: () => app.close(),
  };
}
