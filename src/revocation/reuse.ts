/**
 * The in-memory ReuseStore (src/revocation/reuse-store.ts), one table per sidecar, answering
 * synchronously: how many times each token (by issuer and jti) has been presented here. A
 * sidecar enforces one policy at a time, so the key is `reuseKey(iss, jti)`: counts outlive a
 * policy rename, erring towards refusing. Memory is bounded two ways:
 *  - an entry lives until its token's `expSeconds` plus `retainAfterExpSeconds` (default 300,
 *    the largest `clockSkewSeconds` a policy may set): a token is still accepted within the clock
 *    skew past its `exp`, and a count forgotten at `exp` would let it be used again in that
 *    window. Expired entries go lazily (on their next use) and in `sweep(nowSeconds)`, which the
 *    owner calls periodically: no timers live in here.
 *  - a hard cap on entries and on their estimated bytes (`entryBytes`: measured at ~290 bytes
 *    for a 64-character key on Node 20, estimated at 224 + 2 × key length, an upper bound for
 *    one- and two-byte strings alike). When the table is full even after a sweep, `use` answers
 *    `full` and the caller refuses the token: forgetting counts to make room would let a token
 *    beyond its limit through, so a full table fails closed (and is visible in metrics) instead.
 */
import type { ReuseKey, ReuseOutcome, ReuseStore, ReuseStoreStats } from './reuse-store.js';

export interface MemoryReuseStoreOptions {
  /** Most entries kept at once; default 1,000,000. */
  maxEntries?: number;
  /** Most estimated bytes kept at once (see `entryBytes`); default 64 MiB. */
  maxBytes?: number;
  /** How long past `expSeconds` an entry is kept; default 300 (the maximum clock skew). */
  retainAfterExpSeconds?: number;
}

export const DEFAULT_MAX_REUSE_ENTRIES = 1_000_000;
export const DEFAULT_MAX_REUSE_BYTES = 64 * 1024 * 1024;

/** Estimated heap bytes of one entry: Map slot, Entry object, and the key string. */
export function entryBytes(key: string): number {
  return 224 + 2 * key.length;
}
export const DEFAULT_RETAIN_AFTER_EXP_SECONDS = 300;

interface Entry {
  count: number;
  /** When the entry may go: the token's exp plus the retention margin. */
  untilSeconds: number;
}

/** `iss` + `jti` as one key (a `jti` is unique only per issuer); length-prefixed, so injective. */
export function reuseKey(iss: string, jti: string): string {
  return `${iss.length}:${iss}${jti}`;
}

const FULL: ReuseOutcome = Object.freeze({ kind: 'full' });

/** Outcomes for the first counts, shared: the request path allocates none for them. */
const COUNTED: readonly ReuseOutcome[] = Array.from({ length: 65 }, (_, uses) =>
  Object.freeze({ kind: 'counted', uses }),
);

function counted(uses: number): ReuseOutcome {
  return COUNTED[uses] ?? { kind: 'counted', uses };
}

export class MemoryReuseStore implements ReuseStore {
  private readonly entries = new Map<string, Entry>();
  private readonly maxEntries: number;
  private readonly maxBytes: number;
  private readonly retainSeconds: number;
  #bytes = 0;
  #refusedFull = 0;
  /** When a full table was last swept: at most one full sweep a second, however busy. */
  private lastFullSweep = -Infinity;

  constructor(opts: MemoryReuseStoreOptions = {}) {
    this.maxEntries = opts.maxEntries ?? DEFAULT_MAX_REUSE_ENTRIES;
    if (!Number.isSafeInteger(this.maxEntries) || this.maxEntries < 1) {
      throw new RangeError(`MemoryReuseStore: maxEntries must be a positive integer, got ${this.maxEntries}`);
    }
    this.maxBytes = opts.maxBytes ?? DEFAULT_MAX_REUSE_BYTES;
    if (!(this.maxBytes >= 1))
      throw new RangeError(`MemoryReuseStore: maxBytes must be ≥ 1, got ${this.maxBytes}`);
    this.retainSeconds = opts.retainAfterExpSeconds ?? DEFAULT_RETAIN_AFTER_EXP_SECONDS;
    if (!(this.retainSeconds >= 0)) {
      throw new RangeError(`MemoryReuseStore: retainAfterExpSeconds must be ≥ 0, got ${this.retainSeconds}`);
    }
  }

  /**
   * Records one use of the token `key` names: `counted` with the count including it (1 on first
   * use), or `full` (refuse the token). `expSeconds` may be Infinity for a token without `exp`;
   * its entry then leaves only through `clear`. Always synchronous.
   */
  use(key: ReuseKey, expSeconds: number, nowSeconds: number): ReuseOutcome {
    const uses = this.#count(reuseKey(key.issuer, key.jti), expSeconds, nowSeconds);
    return uses === Infinity ? FULL : counted(uses);
  }

  #count(key: string, expSeconds: number, nowSeconds: number): number {
    const untilSeconds = expSeconds + this.retainSeconds;
    const entry = this.entries.get(key);
    if (entry !== undefined) {
      if (entry.untilSeconds > nowSeconds) return ++entry.count;
      // Long expired: the token is refused elsewhere; if it got here anyway, it starts again.
      entry.count = 1;
      entry.untilSeconds = untilSeconds;
      return 1;
    }
    const cost = entryBytes(key);
    if (this.#full(cost)) {
      if (nowSeconds - this.lastFullSweep >= 1) {
        this.lastFullSweep = nowSeconds;
        this.sweep(nowSeconds);
      }
      if (this.#full(cost)) {
        this.#refusedFull++;
        return Infinity;
      }
    }
    this.entries.set(key, { count: 1, untilSeconds });
    this.#bytes += cost;
    return 1;
  }

  /** Drops every entry past its token's exp plus the retention margin; returns how many went. */
  sweep(nowSeconds: number): number {
    let removed = 0;
    for (const [key, entry] of this.entries) {
      if (entry.untilSeconds <= nowSeconds) {
        this.entries.delete(key);
        this.#bytes -= entryBytes(key);
        removed++;
      }
    }
    return removed;
  }

  #full(cost: number): boolean {
    return this.entries.size >= this.maxEntries || this.#bytes + cost > this.maxBytes;
  }

  stats(): ReuseStoreStats {
    return {
      kind: 'memory',
      entries: this.entries.size,
      bytes: this.#bytes,
      capacityBytes: this.maxBytes,
      refusedFull: this.#refusedFull,
      unavailable: 0,
    };
  }

  /** Nothing to release: the table goes with the process. */
  close(): Promise<void> {
    return Promise.resolve();
  }

  clear(): void {
    this.entries.clear();
    this.#bytes = 0;
    this.lastFullSweep = -Infinity;
  }
}
