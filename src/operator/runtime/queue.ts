/**
 * Key-based work queue in the controller-runtime mould: it holds keys, not events. A key added
 * while already queued is queued once; a key added while being processed is queued again only
 * when the worker calls `done`, so one key is never reconciled by two workers at once. Failed
 * keys come back after a per-key exponential backoff; `forget` resets it after a success.
 *
 * A key may be any value (the controller uses a typed `{ kind, namespace, name }`): `id` turns it
 * into the string that identifies it, and it is never parsed back.
 */
import { backoffDelay, type BackoffLimits } from './backoff.js';

export interface QueueOptions<K> {
  readonly backoff?: BackoffLimits;
  /** Identity of a key: two keys with the same id are the same key. Default: `String(key)`. */
  readonly id?: (key: K) => string;
  /** Called whenever the number of ready keys changes (the depth gauge). */
  readonly onDepth?: (depth: number) => void;
}

/** Capped at a minute: a policy waiting for its identity provider is looked at least that often. */
export const DEFAULT_QUEUE_BACKOFF: BackoffLimits = { baseMs: 500, maxMs: 60_000 };

export class WorkQueue<K = string> {
  private readonly ready: K[] = [];
  /** Keys that need a reconcile: queued, or re-added while being processed. */
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly failureCounts = new Map<string, number>();
  private readonly delayed = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly waiters: ((key: K | undefined) => void)[] = [];
  private readonly idleWaiters: (() => void)[] = [];
  private readonly backoff: BackoffLimits;
  private readonly onDepth: (depth: number) => void;
  private readonly id: (key: K) => string;
  private shuttingDown = false;

  constructor(opts: QueueOptions<K> = {}) {
    this.backoff = opts.backoff ?? DEFAULT_QUEUE_BACKOFF;
    this.id = opts.id ?? String;
    this.onDepth = opts.onDepth ?? (() => undefined);
  }

  add(key: K): void {
    const id = this.id(key);
    if (this.shuttingDown || this.dirty.has(id)) return;
    this.dirty.add(id);
    if (this.processing.has(id)) return; // re-queued by done()
    this.push(key);
  }

  /** Adds the key after `ms`; of several pending delays for one key the earliest wins. */
  addAfter(key: K, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) return this.add(key);
    const id = this.id(key);
    const at = Date.now() + ms;
    const pending = this.delayed.get(id);
    if (pending !== undefined) {
      if (pending.at <= at) return;
      clearTimeout(pending.timer);
    }
    const timer = setTimeout(() => {
      this.delayed.delete(id);
      this.add(key);
    }, ms);
    timer.unref();
    this.delayed.set(id, { at, timer });
  }

  /** Re-queues a failed key after its backoff; returns the delay chosen. */
  addRateLimited(key: K): number {
    const id = this.id(key);
    const failures = (this.failureCounts.get(id) ?? 0) + 1;
    this.failureCounts.set(id, failures);
    const delay = backoffDelay(failures, this.backoff);
    this.addAfter(key, delay);
    return delay;
  }

  /** Resets the key's backoff (after a successful reconcile). */
  forget(key: K): void {
    this.failureCounts.delete(this.id(key));
  }

  failures(key: K): number {
    return this.failureCounts.get(this.id(key)) ?? 0;
  }

  /** Next key to process, or undefined once the queue is shut down. Pair with `done(key)`. */
  get(): Promise<K | undefined> {
    if (this.shuttingDown) return Promise.resolve(undefined);
    const key = this.ready.shift();
    if (key !== undefined) return Promise.resolve(this.take(key));
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  done(key: K): void {
    const id = this.id(key);
    this.processing.delete(id);
    if (this.dirty.has(id) && !this.shuttingDown) this.push(key);
    if (this.processing.size === 0) this.idleWaiters.splice(0).forEach((w) => w());
  }

  /** Ready keys (not counting delayed ones or those being processed). */
  len(): number {
    return this.ready.length;
  }

  isProcessing(key: K): boolean {
    return this.processing.has(this.id(key));
  }

  /** Stops handing out keys and drops delayed ones; in-flight keys may still finish. */
  shutDown(): void {
    this.shuttingDown = true;
    for (const { timer } of this.delayed.values()) clearTimeout(timer);
    this.delayed.clear();
    this.waiters.splice(0).forEach((w) => w(undefined));
  }

  /** Shuts down and waits up to `timeoutMs` for in-flight keys; false if some were still running. */
  async drain(timeoutMs: number): Promise<boolean> {
    this.shutDown();
    if (this.processing.size === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const idle = new Promise<boolean>((resolve) => this.idleWaiters.push(() => resolve(true)));
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      return await Promise.race([idle, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private push(key: K): void {
    const waiter = this.waiters.shift();
    if (waiter !== undefined) {
      waiter(this.take(key));
      return;
    }
    this.ready.push(key);
    this.onDepth(this.ready.length);
  }

  private take(key: K): K {
    const id = this.id(key);
    this.dirty.delete(id);
    this.processing.add(id);
    this.onDepth(this.ready.length);
    return key;
  }
}
