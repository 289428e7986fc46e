/**
 * Per-key token buckets (a key is policy + issuer): an identity provider, or whoever holds its
 * keys, can make at most `burst` revocations at once and `perSecond` after that, so a flood of
 * genuine events cannot flood the API server. Bounded: at most `maxKeys` buckets; when full,
 * buckets that have refilled (they hold no history worth keeping) are dropped, then the oldest.
 *
 * Pure state; `now` passed in (milliseconds).
 */
export interface RateOptions {
  readonly perSecond: number;
  readonly burst: number;
  readonly maxKeys: number;
}

interface Bucket {
  tokens: number;
  atMs: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly o: RateOptions) {}

  /** Takes one token for `key`; false when the bucket is empty (the caller answers 429). */
  take(key: string, nowMs: number): boolean {
    let b = this.buckets.get(key);
    if (b === undefined) {
      if (this.buckets.size >= this.o.maxKeys) this.prune(nowMs);
      b = { tokens: this.o.burst, atMs: nowMs };
      this.buckets.set(key, b);
    } else {
      this.refill(b, nowMs);
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  private refill(b: Bucket, nowMs: number): void {
    const elapsed = Math.max(0, nowMs - b.atMs) / 1000;
    b.tokens = Math.min(this.o.burst, b.tokens + elapsed * this.o.perSecond);
    b.atMs = nowMs;
  }

  private prune(nowMs: number): void {
    for (const [k, b] of this.buckets) {
      this.refill(b, nowMs);
      if (b.tokens >= this.o.burst) this.buckets.delete(k);
    }
    while (this.buckets.size >= this.o.maxKeys) {
      const oldest = this.buckets.keys().next();
      if (oldest.done === true) break;
      this.buckets.delete(oldest.value);
    }
  }
}
