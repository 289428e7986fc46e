/**
 * The one writer of every answer the sidecar gives itself (anything the app did not write):
 * RFC 6750 challenges (challenge.ts maps a refusal to an Answer), the refusals below, 502 when
 * the app cannot be reached, and the raw-socket answers given before node:http has a response
 * object. Every one carries the same headers: JSON body, `cache-control: no-store`, an exact
 * `content-length`, and `connection: close` when the connection must not be reused.
 *
 * To add a refusal: a reason in REFUSAL_REASONS (src/core/reasons.ts, which makes it a metric
 * label and a log field), its row in REFUSALS here, and the call site that counts it
 * (src/proxy/observe.ts `refused`) and writes it (`respond` or `respondRaw`).
 */
import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { RefusalReason } from '../core/reasons.js';

export interface Answer {
  status: number;
  /** RFC 6750 challenge; undefined when the answer is not about the token. */
  wwwAuthenticate: string | undefined;
  /** JSON `{ error, error_description }`. */
  body: string;
  /** Close the connection after this answer (the request's framing cannot be trusted). */
  close?: boolean;
}

export function errorBody(error: string, description: string): string {
  return JSON.stringify({ error, error_description: description });
}

/** The sidecar's refusals that are not about a token: status, error code, text for the client. */
const REFUSALS: Record<
  RefusalReason,
  { status: number; error: string; description: string; close: boolean }
> = {
  no_policy: {
    status: 503,
    error: 'temporarily_unavailable',
    description: 'no token policy is loaded yet',
    close: false,
  },
  malformed_http: {
    status: 400,
    error: 'invalid_request',
    description: 'the request is not valid HTTP/1.1',
    close: true,
  },
  header_too_large: {
    status: 431,
    error: 'request_header_fields_too_large',
    description: 'the request head is too large',
    close: true,
  },
  upgrade_refused: {
    status: 501,
    error: 'not_implemented',
    description: 'protocol upgrades are not proxied',
    close: true,
  },
  timeout: {
    status: 408,
    error: 'request_timeout',
    description: 'the request was not received in time',
    close: true,
  },
  connection_limit: {
    status: 503,
    error: 'temporarily_unavailable',
    description: 'too many connections from this address',
    close: true,
  },
  upstream_busy: {
    status: 503,
    error: 'temporarily_unavailable',
    description: 'the application is busy, try again',
    close: false,
  },
  // Never written (the client is gone); 499 is what proxies log for it.
  client_closed: {
    status: 499,
    error: 'client_closed',
    description: 'the client closed the connection',
    close: true,
  },
  internal_error: { status: 500, error: 'server_error', description: 'internal error', close: false },
};

// Precomputed: refusals are also a hot path under attack.
const REFUSAL_ANSWERS = Object.fromEntries(
  Object.entries(REFUSALS).map(([reason, r]) => [
    reason,
    Object.freeze({
      status: r.status,
      wwwAuthenticate: undefined,
      body: errorBody(r.error, r.description),
      close: r.close,
    }),
  ]),
) as Record<RefusalReason, Answer>;

export function refusal(reason: RefusalReason): Answer {
  return REFUSAL_ANSWERS[reason];
}

/**
 * The refusal for `reason` with a status and description of its own (a Host problem, CONNECT,
 * a slow body): the client's own doing, carrying no secret, so the detail is passed on.
 */
export function refusalWith(reason: RefusalReason, status: number, description: string): Answer {
  const r = REFUSALS[reason];
  return {
    status,
    wwwAuthenticate: undefined,
    body: errorBody(r.error, description.slice(0, 200)),
    close: true,
  };
}

const BAD_GATEWAY: Answer = Object.freeze({
  status: 502,
  wwwAuthenticate: undefined,
  body: errorBody('bad_gateway', 'the application did not answer'),
});

/** The app could not be reached or failed before its answer started. */
export function badGateway(): Answer {
  return BAD_GATEWAY;
}

function headersOf(a: Answer): Record<string, string> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    'content-length': String(Buffer.byteLength(a.body)),
  };
  if (a.wwwAuthenticate !== undefined) headers['www-authenticate'] = a.wwwAuthenticate;
  if (a.close === true) headers.connection = 'close';
  return headers;
}

/** Writes `a` on a node:http response; a response already started is cut instead. */
export function respond(res: ServerResponse, a: Answer): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (a.close === true) res.shouldKeepAlive = false;
  res.writeHead(a.status, headersOf(a));
  res.end(a.body);
}

/**
 * Writes `a` straight on the socket, for answers given before node:http made a response
 * (parser errors, upgrades), then closes the connection.
 */
export function respondRaw(socket: Socket, a: Answer): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const headers = { ...headersOf(a), connection: 'close' };
  let head = `HTTP/1.1 ${a.status} ${STATUS_CODES[a.status] ?? ''}\r\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  socket.end(`${head}\r\n${a.body}`);
}
