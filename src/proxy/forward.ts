/**
 * Forwarding to the app over a keep-alive undici Pool, streaming both ways. This is the measured
 * hot path, so it uses undici's low-level `dispatch` with a handler that writes straight into
 * the client's ServerResponse (no intermediate Readable, no `finished()` listeners,
 * src/proxy/proxy-handler.ts): an answer is read ahead of its client into a bounded buffer, then
 * paced by the client; the request body is piped from the client. A slow client never holds a
 * connection another request needs (ADR 0014): while requests wait for one, an exchange that
 * has waited on its client for EVICT_STALLED_AFTER_MS (1 s) is cut.
 */
import type { ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { Readable } from 'node:stream';
import type { Pool as PoolType } from 'undici';
import { BufferBudget, DEFAULT_BUFFER_BUDGET_BYTES } from './buffer-budget.js';
import type { OutgoingHeaders } from './headers.js';
import { ProxyHandler, type ResponseBuffering, type UpstreamErrorHandler } from './proxy-handler.js';

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
  /** Shared with the request-body buffers (src/proxy/body.ts); a new one of DEFAULT_BUFFER_BUDGET_BYTES when not given. */
  budget?: BufferBudget;
}

/** Connections to the app (requests in flight to it); not a flag. */
const CONNECTIONS = 128;
/** Requests waiting for a connection to the app, at most; more answer 503. */
const MAX_QUEUED = 1024;
/** The app's response head must arrive within this, and no body byte may take longer than the next. */
const HEADERS_TIMEOUT_MS = 60_000;
const BODY_TIMEOUT_MS = 300_000;
/**
 * While requests wait for a connection, an exchange that has waited this long on its client (its
 * body not arriving, its answer not read) is cut to free one (ADR 0014).
 */
const EVICT_STALLED_AFTER_MS = 1_000;
/** Bytes of answer read ahead of a client that is not reading, per exchange (ADR 0014). */
const RESPONSE_BUFFER_BYTES = 64 * 1024;

export type { UpstreamErrorHandler, UpstreamErrorKind } from './proxy-handler.js';
/** Why a request was never sent: no connection in time, or its client left while it waited. */
export type UnsentReason = 'upstream_busy' | 'client_closed';

/**
 * A request body still arriving from its client while the request holds an upstream connection
 * (src/proxy/body.ts): since when it has waited on the client, and how to cut it.
 */
export interface BodyPace {
  stalledSince(): number | undefined;
  evict(): void;
}

/** An exchange holding an upstream connection, as the stall eviction sees it. */
interface Held {
  readonly handler: ProxyHandler;
  readonly body: BodyPace | undefined;
  evicted: boolean;
}

export class Upstream {
  readonly #pool: PoolType;
  readonly #connections: number;
  readonly #queueTimeoutMs: number;
  readonly #maxQueued: number;
  readonly #evictAfterMs: number;
  readonly #buffering: ResponseBuffering;
  /** The shared budget of buffered bytes; the server's body reader claims from it too. */
  readonly budget: BufferBudget;
  #active = 0;
  readonly #waiting: (() => void)[] = [];
  readonly #held = new Set<Held>();
  /** Exchanges cut by the eviction whose connection is not back yet. */
  #evicting = 0;
  #sweeper: NodeJS.Timeout | undefined;

  constructor(opts: UpstreamOptions) {
    this.#connections = CONNECTIONS;
    this.#queueTimeoutMs = opts.queueTimeoutMs;
    this.#maxQueued = MAX_QUEUED;
    this.#evictAfterMs = EVICT_STALLED_AFTER_MS;
    this.budget = opts.budget ?? new BufferBudget(DEFAULT_BUFFER_BUDGET_BYTES);
    this.#buffering = {
      budget: this.budget,
      bufferBytes: RESPONSE_BUFFER_BYTES,
      stallMs: opts.writeStallTimeoutMs,
    };
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
   * `pace` is given for a body still arriving: the eviction may cut it through `pace.evict`.
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
    pace?: BodyPace,
  ): void {
    const go = (): void => {
      onDispatch();
      this.#active++;
      let released = false;
      const release = (): void => {
        if (released) return;
        released = true;
        this.#active--;
        this.#held.delete(held);
        if (held.evicted) this.#evicting--;
        this.#waiting.shift()?.();
        if (this.#waiting.length === 0) this.#stopSweeper();
      };
      const handler = new ProxyHandler(res, onError, release, this.#buffering);
      const held: Held = { handler, body: pace, evicted: false };
      this.#held.add(held);
      // The client decides about retries; a non-idempotent request must not be sent twice.
      this.#pool.dispatch({ path, method, headers, body, idempotent: false }, handler);
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
    this.#evictStalled();
    this.#sweeper ??= setInterval(() => this.#evictStalled(), Math.max(50, this.#evictAfterMs / 4));
    this.#sweeper.unref();
  }

  /**
   * While requests wait, cuts exchanges that have waited on their client for the bound, the
   * longest-stalled first, one per waiting request: a slow client never holds a connection
   * another request could use. Nothing is cut while no request waits.
   */
  #evictStalled(): void {
    if (this.#waiting.length === 0) return this.#stopSweeper();
    const now = Date.now();
    const stalled: [number, Held][] = [];
    for (const h of this.#held) {
      if (h.evicted) continue;
      const since = Math.min(h.handler.stalledSince ?? now, h.body?.stalledSince() ?? now);
      if (now - since >= this.#evictAfterMs) stalled.push([since, h]);
    }
    stalled.sort((a, b) => a[0] - b[0]);
    for (const [, h] of stalled) {
      if (this.#evicting >= this.#waiting.length) break;
      h.evicted = true;
      this.#evicting++;
      if (h.body !== undefined && h.handler.stalledSince === undefined) h.body.evict();
      else h.handler.evict();
    }
  }

  #stopSweeper(): void {
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
  }

  async close(): Promise<void> {
    this.#stopSweeper();
    await this.#pool.close();
  }
}
