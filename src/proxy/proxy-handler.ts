/**
 * The undici handler of one forwarded exchange: writes the app's answer straight into the
 * client's ServerResponse (no intermediate Readable). The answer is read ahead of the client
 * into a bounded buffer (`bufferBytes`, claimed from the shared BufferBudget), so an answer
 * that fits goes back to the pool as soon as the app has sent it, whether or not the client
 * reads; a larger one is paced by the client (the app paused while the socket does not drain).
 * A client that never reads is cut after `stallMs`, before or after the connection is freed.
 */
import type { ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { BufferBudget } from './buffer-budget.js';
import { downstreamHeaders } from './headers.js';
import { badGateway, respond } from './respond.js';

export type UpstreamErrorKind = 'connect' | 'timeout' | 'reset' | 'other';
export type UpstreamErrorHandler = (kind: UpstreamErrorKind, err: Error) => void;

export interface ResponseBuffering {
  readonly budget: BufferBudget;
  /** Bytes of answer read ahead of the client, per exchange. */
  readonly bufferBytes: number;
  /** Longest wait for the client to take what is buffered; then the exchange is cut. */
  readonly stallMs: number;
}

export class ProxyHandler implements Dispatcher.DispatchHandler {
  // Private (#) fields only: undici probes handlers for legacy method names such as `onError`.
  readonly #res: ServerResponse;
  readonly #report: UpstreamErrorHandler;
  readonly #release: () => void;
  readonly #buf: ResponseBuffering;
  #controller: Dispatcher.DispatchController | undefined;
  #done = false;
  #claimed = false;
  /** Since when the app is paused for a client that does not read (ms), or undefined. */
  stalledSince: number | undefined = undefined;

  constructor(
    res: ServerResponse,
    report: UpstreamErrorHandler,
    release: () => void,
    buf: ResponseBuffering,
  ) {
    this.#res = res;
    this.#report = report;
    this.#release = release;
    this.#buf = buf;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    // The client went away before the app finished: stop reading from the app.
    this.#res.once('close', this.#onClientClose);
  }

  #onClientClose = (): void => {
    this.#giveBack();
    if (!this.#done) this.#controller?.abort(new Error('client closed the connection'));
  };

  #giveBack = (): void => {
    if (!this.#claimed) return;
    this.#claimed = false;
    this.#buf.budget.give(this.#buf.bufferBytes);
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
    const res = this.#res;
    if (res.write(chunk)) return;
    // Over the socket's own buffer: read ahead into this exchange's bounded buffer, if the
    // budget has room, so that a short answer frees its upstream connection at once.
    if (!this.#claimed && this.#buf.budget.take(this.#buf.bufferBytes)) {
      this.#claimed = true;
      res.once('drain', this.#giveBack);
    }
    if (this.#claimed && res.writableLength < this.#buf.bufferBytes) return;
    controller.pause();
    this.stalledSince = Date.now();
    const stalled = this.#cutAfterStall();
    res.once('drain', () => {
      stalled();
      this.stalledSince = undefined;
      controller.resume();
    });
  }

  /** Cuts the exchange if the client takes nothing for `stallMs`; returns the cancel. */
  #cutAfterStall(): () => void {
    const res = this.#res;
    const timer = setTimeout(() => res.destroy(), this.#buf.stallMs);
    timer.unref();
    const onClose = (): void => clearTimeout(timer);
    res.once('close', onClose);
    return () => {
      clearTimeout(timer);
      res.off('close', onClose);
    };
  }

  /** Cuts the exchange (the pool needs its connection for a client that is not stalled). */
  evict(): void {
    this.#res.destroy();
  }

  onResponseEnd(): void {
    this.#done = true;
    this.#release();
    const res = this.#res;
    res.end();
    // What is still buffered past the socket's own buffer waits for the client, bounded like a
    // paused answer. Not `writableLength > 0`: the server corks every answer until the next
    // tick, so that held for every response and armed a timer and two listeners per request.
    if (res.writableNeedDrain && !res.destroyed) {
      const cancel = this.#cutAfterStall();
      res.once('finish', cancel);
    }
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
