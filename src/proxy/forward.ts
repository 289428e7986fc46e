/**
 * Forwarding to the app over a keep-alive undici Pool, streaming both ways. This is the measured
 * hot path, so it uses undici's low-level `dispatch` with a handler that writes straight into
 * the client's ServerResponse (no intermediate Readable, no `finished()` listeners): the
 * response body flows chunk by chunk with backpressure (pause the app when the client is slow),
 * the request body is piped from the client.
 */
import type { ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { Readable } from 'node:stream';
import type { Dispatcher, Pool as PoolType } from 'undici';
import { downstreamHeaders, type OutgoingHeaders } from './headers.js';
import { badGateway, respond } from './respond.js';

// Only the connection pool, not undici's index: the index loads fetch, WebSocket, the cache
// and mock layers too, ~9 MiB of RSS per sidecar for code the data path never runs
// (bench/README.md). `Pool` is undici's public class; only the module path is deep.
const Pool = createRequire(import.meta.url)('undici/lib/dispatcher/pool.js') as typeof PoolType;

export interface UpstreamOptions {
  /** http://127.0.0.1:8080 */
  url: string;
  /**
   * Longest wait for a free upstream connection; then 503 (ADR 0007). At most `CONNECTIONS`
   * requests are in flight to the app; the rest wait here, bounded in time and in number
   * (`MAX_QUEUED`), never in undici's unbounded queue.
   */
  queueTimeoutMs: number;
  /**
   * Longest time a response may wait for its client to read (the socket not draining); then the
   * exchange is cut and the upstream connection freed.
   */
  writeStallTimeoutMs: number;
}

/** Connections to the app (requests in flight to it); not a flag. */
const CONNECTIONS = 128;
/** Requests waiting for a connection to the app, at most; more answer 503. */
const MAX_QUEUED = 1024;
/** The app's response head must arrive within this, and no body byte may take longer than the next. */
const HEADERS_TIMEOUT_MS = 60_000;
const BODY_TIMEOUT_MS = 300_000;

export type UpstreamErrorKind = 'connect' | 'timeout' | 'reset' | 'other';
/** Why a request was never sent: no connection in time, or its client left while it waited. */
export type UnsentReason = 'upstream_busy' | 'client_closed';
export type UpstreamErrorHandler = (kind: UpstreamErrorKind, err: Error) => void;

export class Upstream {
  readonly #pool: PoolType;
  readonly #connections: number;
  readonly #queueTimeoutMs: number;
  readonly #maxQueued: number;
  readonly #writeStallMs: number;
  #active = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(opts: UpstreamOptions) {
    this.#connections = CONNECTIONS;
    this.#queueTimeoutMs = opts.queueTimeoutMs;
    this.#maxQueued = MAX_QUEUED;
    this.#writeStallMs = opts.writeStallTimeoutMs;
    this.#pool = new Pool(opts.url, {
      connections: this.#connections,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      headersTimeout: HEADERS_TIMEOUT_MS,
      bodyTimeout: BODY_TIMEOUT_MS,
    });
  }

  /** Requests in flight to the app, and waiting for a connection. */
  get load(): { active: number; waiting: number } {
    return { active: this.#active, waiting: this.#waiting.length };
  }

  /**
   * Sends the request on and streams the answer back. Never throws: a failure to reach the app
   * answers 502 (or cuts a response already started) and is reported through `onError`. A
   * request that is never sent calls `onUnsent` once: `upstream_busy` when no connection became
   * free within the wait bound (the caller answers 503), `client_closed` when its client left
   * while it waited (nobody to answer; its place in the queue is given up at once). `onDispatch`
   * runs when the request is handed to a connection (at most once, never with `onUnsent`).
   */
  forward(
    method: string,
    res: ServerResponse,
    path: string,
    headers: OutgoingHeaders,
    body: Buffer | Readable | null,
    onError: UpstreamErrorHandler,
    onUnsent: (reason: UnsentReason) => void,
    onDispatch: () => void = () => undefined,
  ): void {
    const go = (): void => {
      onDispatch();
      this.#active++;
      let released = false;
      const release = (): void => {
        if (released) return;
        released = true;
        this.#active--;
        this.#waiting.shift()?.();
      };
      this.#pool.dispatch(
        // The client decides about retries; a non-idempotent request must not be sent twice.
        { path, method, headers, body, idempotent: false },
        new ProxyHandler(res, onError, release, this.#writeStallMs),
      );
    };
    if (this.#active < this.#connections) return go();
    if (this.#waiting.length >= this.#maxQueued) return onUnsent('upstream_busy');
    let timer: NodeJS.Timeout | undefined = undefined;
    const leave = (reason: UnsentReason): void => {
      clearTimeout(timer);
      res.off('close', onClientClose);
      const i = this.#waiting.indexOf(start);
      if (i !== -1) this.#waiting.splice(i, 1);
      onUnsent(reason);
    };
    const onClientClose = (): void => leave('client_closed');
    const start = (): void => {
      clearTimeout(timer);
      res.off('close', onClientClose);
      if (!res.destroyed) return go();
      onUnsent('client_closed'); // left without 'close' yet: counted, and the turn passes on
      this.#waiting.shift()?.();
    };
    this.#waiting.push(start);
    res.once('close', onClientClose);
    timer = setTimeout(() => leave(res.destroyed ? 'client_closed' : 'upstream_busy'), this.#queueTimeoutMs);
    timer.unref();
  }

  async close(): Promise<void> {
    await this.#pool.close();
  }
}

class ProxyHandler implements Dispatcher.DispatchHandler {
  // Private (#) fields only: undici probes handlers for legacy method names such as `onError`.
  readonly #res: ServerResponse;
  readonly #report: UpstreamErrorHandler;
  readonly #release: () => void;
  #controller: Dispatcher.DispatchController | undefined;
  #done = false;

  readonly #stallMs: number;

  constructor(res: ServerResponse, report: UpstreamErrorHandler, release: () => void, stallMs: number) {
    this.#res = res;
    this.#report = report;
    this.#release = release;
    this.#stallMs = stallMs;
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
    if (this.#res.destroyed) {
      controller.abort(new Error('client closed the connection')); // nobody to write the head to
      return;
    }
    this.#res.writeHead(statusCode, downstreamHeaders(headers));
    this.#controller = controller;
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.#res.write(chunk)) {
      controller.pause();
      // A client that never reads must not hold an upstream connection: cut it after the bound.
      const stalled = setTimeout(() => this.#res.destroy(), this.#stallMs);
      stalled.unref();
      const onClose = (): void => clearTimeout(stalled);
      this.#res.once('close', onClose);
      this.#res.once('drain', () => {
        clearTimeout(stalled);
        this.#res.off('close', onClose);
        controller.resume();
      });
    }
  }

  onResponseEnd(): void {
    this.#done = true;
    this.#release();
    this.#res.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.#done = true;
    this.#release();
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
