/**
 * Forwarding to the app over a keep-alive undici Pool, streaming both ways. This is the measured
 * hot path, so it uses undici's low-level `dispatch` with a handler that writes straight into
 * the client's ServerResponse (no intermediate Readable, no `finished()` listeners): the
 * response body flows chunk by chunk with backpressure (pause the app when the client is slow),
 * the request body is piped from the client.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Pool, type Dispatcher } from 'undici';
import { downstreamHeaders, type OutgoingHeaders } from './headers.js';
import { badGateway, respond } from './respond.js';

export interface UpstreamOptions {
  /** http://127.0.0.1:8080 */
  url: string;
  connections?: number;
  headersTimeoutMs?: number;
  bodyTimeoutMs?: number;
}

export type UpstreamErrorKind = 'connect' | 'timeout' | 'reset' | 'other';
export type UpstreamErrorHandler = (kind: UpstreamErrorKind, err: Error) => void;

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
   * answers 502 (or cuts a response already started) and is reported through `onError`.
   */
  forward(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    headers: OutgoingHeaders,
    onError: UpstreamErrorHandler,
  ): void {
    const hasBody =
      req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
    this.#pool.dispatch(
      {
        path,
        method: req.method ?? 'GET',
        headers,
        body: hasBody ? req : null,
        // The client decides about retries; a non-idempotent request must not be sent twice.
        idempotent: false,
      },
      new ProxyHandler(res, onError),
    );
  }

  async close(): Promise<void> {
    await this.#pool.close();
  }
}

class ProxyHandler implements Dispatcher.DispatchHandler {
  // Private (#) fields only: undici probes handlers for legacy method names such as `onError`.
  readonly #res: ServerResponse;
  readonly #report: UpstreamErrorHandler;
  #controller: Dispatcher.DispatchController | undefined;
  #done = false;

  constructor(res: ServerResponse, report: UpstreamErrorHandler) {
    this.#res = res;
    this.#report = report;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    // The client went away before the app finished: stop reading from the app.
    this.#res.once('close', this.#onClientClose);
  }

  #onClientClose = (): void => {
    if (!this.#done) this.#controller?.abort(new Error('client closed the connection'));
  };

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    if (statusCode < 200) return; // 1xx: node answers 100-continue itself
    this.#res.writeHead(statusCode, downstreamHeaders(headers));
    this.#controller = controller;
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.#res.write(chunk)) {
      controller.pause();
      this.#res.once('drain', () => controller.resume());
    }
  }

  onResponseEnd(): void {
    this.#done = true;
    this.#res.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.#done = true;
    if (this.#res.destroyed) return; // the client left first; nothing to answer
    this.#report(classify(err), err);
    if (!this.#res.headersSent) respond(this.#res, badGateway());
    else this.#res.destroy(err);
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
