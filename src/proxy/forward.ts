/**
 * Forwarding to the app over a keep-alive undici Pool, streaming both ways: the request body is
 * piped from the client, the response body is written straight into the client response
 * (`pool.stream` with the ServerResponse as the sink, no intermediate Readable).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Pool } from 'undici';
import { badGatewayBody } from './challenge.js';
import { downstreamHeaders, type OutgoingHeaders } from './headers.js';

export interface UpstreamOptions {
  /** http://127.0.0.1:8080 */
  url: string;
  connections?: number;
  headersTimeoutMs?: number;
  bodyTimeoutMs?: number;
}

export type UpstreamErrorKind = 'connect' | 'timeout' | 'reset' | 'other';

export class Upstream {
  readonly #pool: Pool;

  constructor(opts: UpstreamOptions) {
    this.#pool = new Pool(opts.url, {
      connections: opts.connections ?? 128,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      headersTimeout: opts.headersTimeoutMs ?? 60_000,
      bodyTimeout: opts.bodyTimeoutMs ?? 300_000,
    });
  }

  /**
   * Sends the request on and streams the answer back. Never throws: a failure to reach the app
   * answers 502 (or ends a response already started) and is reported through `onError`.
   */
  forward(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    headers: OutgoingHeaders,
    onError: (kind: UpstreamErrorKind, err: Error) => void,
  ): void {
    const method = req.method ?? 'GET';
    const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
    this.#pool.stream(
      {
        path,
        method,
        headers,
        body: hasBody ? req : null,
        // The client decides about retries; a non-idempotent request must not be sent twice.
        idempotent: false,
      },
      ({ statusCode, headers: upstream }) => {
        res.writeHead(statusCode, downstreamHeaders(upstream));
        return res;
      },
      (err) => {
        if (!err) return;
        onError(classify(err), err);
        if (!res.headersSent) {
          res.writeHead(502, { 'content-type': 'application/json', 'cache-control': 'no-store' });
          res.end(badGatewayBody());
        } else {
          res.destroy(err);
        }
      },
    );
  }

  async close(): Promise<void> {
    await this.#pool.close();
  }
}

function classify(err: Error & { code?: string }): UpstreamErrorKind {
  switch (err.code) {
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EHOSTUNREACH':
      return 'connect';
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'timeout';
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
    case 'EPIPE':
      return 'reset';
    default:
      return 'other';
  }
}
