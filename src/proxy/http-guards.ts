/**
 * Protocol-level guards of the enforcing listener (ADR 0007): request heads that
 * an app could read differently from the sidecar, per-client connection caps, and the one
 * rate-limited log of answers the sidecar gives itself. Pure checks take plain data.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '../log/logger.js';

export interface HeadProblem {
  status: 400 | 431;
  description: string;
}

/**
 * RFC 9112 §3.2: exactly one Host, a valid authority (no `/`, `?`, `@`, whitespace); the header
 * count within `maxHeaders` (a second Authorization or Content-Length must not hide past a limit);
 * no body on GET or HEAD (apps that ignore such bodies leave them in the stream: smuggling).
 */
export function headProblem(
  method: string,
  headers: IncomingHttpHeaders,
  rawHeaders: readonly string[],
  maxHeaders: number,
  httpVersion = '1.1',
): HeadProblem | undefined {
  if (rawHeaders.length / 2 > maxHeaders) {
    return { status: 431, description: `more than ${maxHeaders} header fields` };
  }
  let hosts = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i];
    if (name !== undefined && name.length === 4 && name.toLowerCase() === 'host') hosts++;
  }
  if (hosts > 1) return { status: 400, description: 'more than one Host header' };
  // RFC 9112 §3.2: an HTTP/1.1 request without Host is answered 400 (node:http's own answer
  // would be neither counted nor logged, so the check is made here).
  if (hosts === 0 && httpVersion !== '1.0') return { status: 400, description: 'no Host header' };
  const host = headers.host;
  if (host !== undefined && /[/?@#\\\s]/.test(host)) {
    return { status: 400, description: "a Host header with '/', '?', '@' or whitespace" };
  }
  if (method === 'GET' || method === 'HEAD') {
    const cl = headers['content-length'];
    if (headers['transfer-encoding'] !== undefined || (cl !== undefined && cl.trim() !== '0')) {
      return { status: 400, description: `a ${method} request with a body` };
    }
  }
  return undefined;
}

/** At most one log line per reason every `intervalMs`, saying how many were not logged. */
export class RateLimitedLog {
  readonly #last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly log: Logger,
    private readonly intervalMs = 10_000,
  ) {}

  warn(reason: string, fields: Record<string, unknown>, message: string): void {
    const now = Date.now();
    const seen = this.#last.get(reason);
    if (seen !== undefined && now - seen.at < this.intervalMs) {
      seen.suppressed++;
      return;
    }
    this.#last.set(reason, { at: now, suppressed: 0 });
    this.log.warn({ reason, ...fields, suppressed: seen?.suppressed ?? 0 }, message);
  }
}

/** Open connections per client address, capped. */
export class ConnectionLimiter {
  readonly #open = new Map<string, number>();
  #total = 0;

  constructor(
    private readonly maxPerAddress: number,
    private readonly maxTotal = Number.POSITIVE_INFINITY,
  ) {}

  /** Registers the socket; false when its address, or the listener, is at its cap (the caller refuses it). */
  admit(socket: Socket): boolean {
    const address = socket.remoteAddress ?? '';
    const n = this.#open.get(address) ?? 0;
    if (n >= this.maxPerAddress || this.#total >= this.maxTotal) return false;
    this.#open.set(address, n + 1);
    this.#total++;
    socket.once('close', () => {
      this.#total--;
      const left = (this.#open.get(address) ?? 1) - 1;
      if (left <= 0) this.#open.delete(address);
      else this.#open.set(address, left);
    });
    return true;
  }
}
