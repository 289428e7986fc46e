/**
 * Forwarding to the app over node:http's own client: a keep-alive Agent, streaming both ways
 * (ADR 0008: the same parser as the server side, native llhttp, instead of undici's WebAssembly
 * one; 30–40 MiB less peak RSS per pod at the same CPU per request). The response body flows
 * chunk by chunk with backpressure (pause the app when the client is slow), the request body is
 * piped from the client. Response headers are passed on as the app sent them (raw pairs: case,
 * order and repeated fields kept), minus hop-by-hop fields.
 *
 * At most `connections` requests are in flight to the app; the rest wait here, bounded in time
 * and in number, never in the Agent's unbounded queue. Time limits on the app (headers, then
 * idle between body chunks) are checked by one unref'd timer for all exchanges, not one timer
 * per request.
 */
import { Agent, request, type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { downstreamRawHeaders, type OutgoingHeaders } from './headers.js';
import { badGateway, respond } from './respond.js';

export interface UpstreamOptions {
  /** http://127.0.0.1:8080 */
  url: string;
  connections?: number;
  /** Longest wait for the app's response head once the request is sent. Default 60 s. */
  headersTimeoutMs?: number;
  /** Longest silence between two chunks of the app's response body. Default 300 s. */
  bodyTimeoutMs?: number;
  /**
   * Longest wait for a free upstream connection; then 503 (issue 8, point 1). Default 5 s.
   */
  queueTimeoutMs?: number;
  /** Requests waiting for a connection beyond this many are answered 503 at once. Default 1024. */
  maxQueued?: number;
  /** Idle keep-alive connections are closed after this long (or before the app's own Keep-Alive timeout). Default 30 s. */
  keepAliveTimeoutMs?: number;
}

export type UpstreamErrorKind = 'connect' | 'timeout' | 'reset' | 'other';
export type UpstreamErrorHandler = (kind: UpstreamErrorKind, err: Error) => void;

/** Coarse clock for the timeout sweep: whole seconds are plenty for limits of 60 s and 300 s. */
const SWEEP_MS = 1_000;

export class Upstream {
  readonly #agent: Agent;
  readonly #host: string;
  readonly #port: number;
  readonly #connections: number;
  readonly #queueTimeoutMs: number;
  readonly #maxQueued: number;
  readonly #headersTimeoutMs: number;
  readonly #bodyTimeoutMs: number;
  #active = 0;
  readonly #waiting: (() => void)[] = [];
  /** In flight, for the timeout sweep. */
  readonly #exchanges = new Set<Exchange>();
  #now = Date.now();
  readonly #sweeper: NodeJS.Timeout;

  constructor(opts: UpstreamOptions) {
    const url = new URL(opts.url);
    if (url.protocol !== 'http:') throw new Error(`upstream ${opts.url}: only http:// is supported`);
    this.#host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    this.#port = url.port === '' ? 80 : Number(url.port);
    this.#connections = opts.connections ?? 128;
    this.#queueTimeoutMs = opts.queueTimeoutMs ?? 5_000;
    this.#maxQueued = opts.maxQueued ?? 1024;
    this.#headersTimeoutMs = opts.headersTimeoutMs ?? 60_000;
    this.#bodyTimeoutMs = opts.bodyTimeoutMs ?? 300_000;
    this.#agent = new Agent({
      keepAlive: true,
      maxSockets: this.#connections,
      maxFreeSockets: this.#connections,
      // Most recently used first: a few hot connections under light load, the rest time out.
      scheduling: 'lifo',
      // Free sockets close after this, or 1 s before the app's `Keep-Alive: timeout=N` (node:http).
      timeout: opts.keepAliveTimeoutMs ?? 30_000,
    });
    this.#sweeper = setInterval(() => this.#sweep(), SWEEP_MS);
    this.#sweeper.unref();
  }

  /** Requests in flight to the app, and waiting for a connection. */
  get load(): { active: number; waiting: number } {
    return { active: this.#active, waiting: this.#waiting.length };
  }

  /**
   * Sends the request on and streams the answer back. Never throws: a failure to reach the app
   * answers 502 (or cuts a response already started) and is reported through `onError`; no free
   * connection within the wait bound calls `onBusy` (the caller answers 503) and sends nothing.
   */
  forward(
    method: string,
    res: ServerResponse,
    path: string,
    headers: OutgoingHeaders,
    body: Buffer | Readable | null,
    onError: UpstreamErrorHandler,
    onBusy: () => void,
  ): void {
    if (this.#active < this.#connections) return this.#send(method, res, path, headers, body, onError);
    if (this.#waiting.length >= this.#maxQueued) return onBusy();
    let timer: NodeJS.Timeout | undefined = undefined;
    const start = (): void => {
      clearTimeout(timer);
      if (res.destroyed) {
        this.#waiting.shift()?.(); // the client left while waiting: pass the turn on
        return;
      }
      this.#send(method, res, path, headers, body, onError);
    };
    this.#waiting.push(start);
    timer = setTimeout(() => {
      const i = this.#waiting.indexOf(start);
      if (i !== -1) this.#waiting.splice(i, 1);
      onBusy();
    }, this.#queueTimeoutMs);
    timer.unref();
  }

  #send(
    method: string,
    res: ServerResponse,
    path: string,
    headers: OutgoingHeaders,
    body: Buffer | Readable | null,
    onError: UpstreamErrorHandler,
  ): void {
    this.#active++;
    // Framing is ours to state, never inherited: a whole body gets its exact length, a streamed
    // one without a length is chunked (node:http would otherwise send a GET's body unframed).
    if (Buffer.isBuffer(body)) {
      delete headers['transfer-encoding'];
      headers['content-length'] = String(body.length);
    } else if (body !== null && headers['content-length'] === undefined) {
      headers['transfer-encoding'] = 'chunked';
    }
    const exchange = new Exchange(this, res, onError);
    this.#exchanges.add(exchange);
    let req: ClientRequest;
    try {
      req = request({
        agent: this.#agent,
        host: this.#host,
        port: this.#port,
        method,
        path,
        headers,
        // The client's Host goes on unchanged (it is in `headers` when the client sent one).
        setHost: false,
      });
    } catch (err) {
      // An invalid header value or path (node validates both): nothing was sent.
      exchange.fail(err as Error);
      return;
    }
    exchange.start(req, this.#now);
    if (body === null) req.end();
    else if (Buffer.isBuffer(body)) req.end(body);
    else {
      body.on('error', (err) => req.destroy(err));
      body.pipe(req);
    }
  }

  /** Called once per exchange, when it ends whichever way. */
  done(exchange: Exchange): void {
    if (!this.#exchanges.delete(exchange)) return;
    this.#active--;
    this.#waiting.shift()?.();
  }

  now(): number {
    return this.#now;
  }

  #sweep(): void {
    this.#now = Date.now();
    for (const exchange of this.#exchanges) {
      exchange.checkTimeout(this.#now, this.#headersTimeoutMs, this.#bodyTimeoutMs);
    }
  }

  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    this.#agent.destroy();
    await Promise.resolve();
  }
}

class UpstreamTimeout extends Error {
  readonly code = 'UPSTREAM_TIMEOUT';
}

/** One request to the app and its answer, from the first byte sent to the last byte relayed. */
class Exchange {
  readonly #upstream: Upstream;
  readonly #res: ServerResponse;
  readonly #report: UpstreamErrorHandler;
  #req: ClientRequest | undefined;
  #response: IncomingMessage | undefined;
  /** Coarse time of the last sign of life from the app (request sent, head, a body chunk). */
  #lastActivity = 0;
  #finished = false;

  constructor(upstream: Upstream, res: ServerResponse, report: UpstreamErrorHandler) {
    this.#upstream = upstream;
    this.#res = res;
    this.#report = report;
  }

  start(req: ClientRequest, now: number): void {
    this.#req = req;
    this.#lastActivity = now;
    req.on('response', this.#onResponse);
    req.on('error', this.#onRequestError);
    // The app answered 101 to a request whose Upgrade the sidecar removed: nothing to relay.
    req.on('upgrade', this.#onUpgrade);
    // The client went away before the app finished: stop reading from the app.
    this.#res.once('close', this.#onClientClose);
  }

  checkTimeout(now: number, headersMs: number, bodyMs: number): void {
    const limit = this.#response === undefined ? headersMs : bodyMs;
    if (this.#finished || now - this.#lastActivity < limit) return;
    const what = this.#response === undefined ? 'response head' : 'response body';
    this.#req?.destroy(new UpstreamTimeout(`no ${what} from the app within ${limit} ms`));
  }

  #onResponse = (response: IncomingMessage): void => {
    this.#response = response;
    this.#lastActivity = this.#upstream.now();
    const res = this.#res;
    if (res.destroyed) {
      response.destroy();
      return;
    }
    res.writeHead(response.statusCode ?? 502, downstreamRawHeaders(response.rawHeaders));
    response.on('data', this.#onData);
    response.on('end', this.#onEnd);
    response.on('error', this.#onResponseError);
    response.on('close', this.#onResponseClose);
  };

  #onData = (chunk: Buffer): void => {
    this.#lastActivity = this.#upstream.now();
    if (!this.#res.write(chunk)) {
      const response = this.#response!;
      response.pause();
      this.#res.once('drain', () => response.resume());
    }
  };

  #onEnd = (): void => {
    if (this.#finished) return;
    this.#finished = true;
    this.#upstream.done(this);
    this.#res.end();
  };

  #onResponseClose = (): void => {
    // Closed without 'end': the app cut the body (or it was destroyed by a timeout).
    if (!this.#finished) this.fail(new Error('the app closed the connection mid-response'));
  };

  #onResponseError = (err: Error): void => this.fail(err);

  #onRequestError = (err: Error): void => this.fail(err);

  #onUpgrade = (_response: IncomingMessage, socket: Socket): void => {
    socket.destroy();
    this.fail(new Error('the app answered with a protocol upgrade'));
  };

  #onClientClose = (): void => {
    if (this.#finished) return;
    this.#finished = true;
    this.#upstream.done(this);
    this.#req?.destroy();
  };

  /** Ends the exchange with an error: 502 if nothing was relayed yet, else cut the response. */
  fail(err: Error): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#upstream.done(this);
    this.#req?.destroy();
    const res = this.#res;
    if (res.destroyed) return; // the client left first; nothing to answer
    this.#report(classify(err), err);
    if (!res.headersSent) respond(res, badGateway());
    else res.destroy(err);
  }
}

function classify(err: Error & { code?: string }): UpstreamErrorKind {
  switch (err.code) {
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'connect';
    case 'UPSTREAM_TIMEOUT':
    case 'ETIMEDOUT':
      return 'timeout';
    case 'ECONNRESET':
    case 'EPIPE':
      return 'reset';
    default:
      return err.message === 'the app closed the connection mid-response' ? 'reset' : 'other';
  }
}
