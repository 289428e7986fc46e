/**
 * Authentication results (TokenReviews, and tokens checked against the service-account keys),
 * cached so a reconnect storm does not become a TokenReview storm on the
 * API server. Keyed by the SHA-256 of the token (the token itself is never stored); an entry
 * lives at most `ttlMs` and never past the token's own `exp`. Only positive answers are cached:
 * a refusal costs the caller a review (and the pre-authentication limit) every time. Concurrent
 * requests with the same token share one review. Pod deletion needs no eviction here: the route
 * resolves the pod in the informer cache (name and uid) on every connect.
 */
import { createHash } from 'node:crypto';
import type { Authenticated } from './auth.js';

export interface ReviewCacheOptions {
  readonly ttlMs: number;
  readonly maxEntries: number;
  readonly now?: () => number;
}

export const DEFAULT_REVIEW_CACHE: ReviewCacheOptions = { ttlMs: 60_000, maxEntries: 20_000 };

/**
 * The `exp` claim of a JWT's payload in ms, read without checking the signature: it only ever
 * shortens how long a positive TokenReview is reused. undefined when the token is not a JWT
 * with a numeric exp (then nothing is cached).
 */
export function tokenExpiryMs(token: string): number | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[1] === undefined || parts[1].length > 8192) return undefined;
  try {
    const payload: unknown = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    const exp = (payload as { exp?: unknown } | null)?.exp;
    return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

export const tokenKey = (token: string): string => createHash('sha256').update(token).digest('base64url');

interface Entry {
  readonly result: Authenticated;
  readonly expiresAt: number;
}

export class ReviewCache {
  readonly #entries = new Map<string, Entry>();
  readonly #inFlight = new Map<string, Promise<Authenticated>>();
  readonly #o: ReviewCacheOptions;
  readonly #now: () => number;

  constructor(options: ReviewCacheOptions = DEFAULT_REVIEW_CACHE) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** A cached positive answer for `token`, when still valid. */
  get(token: string): Authenticated | undefined {
    const key = tokenKey(token);
    const e = this.#entries.get(key);
    if (e === undefined) return undefined;
    if (this.#now() >= e.expiresAt) {
      this.#entries.delete(key);
      return undefined;
    }
    return e.result;
  }

  /**
   * `review(token)` once for concurrent callers with the same token; a positive answer is kept
   * until min(now + ttl, exp).
   */
  async review(token: string, review: (token: string) => Promise<Authenticated>): Promise<Authenticated> {
    const key = tokenKey(token);
    const pending = this.#inFlight.get(key);
    if (pending !== undefined) return pending;
    const p = review(token).finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, p);
    const result = await p;
    if (result.ok) this.#put(key, result, tokenExpiryMs(token));
    return result;
  }

  /** A positive answer decided without a TokenReview (pod-token.ts), kept like a review's. */
  remember(token: string, result: Authenticated): void {
    if (result.ok) this.#put(tokenKey(token), result, tokenExpiryMs(token));
  }

  #put(key: string, result: Authenticated, expMs: number | undefined): void {
    if (expMs === undefined) return;
    const expiresAt = Math.min(this.#now() + this.#o.ttlMs, expMs);
    if (expiresAt <= this.#now()) return;
    this.#entries.delete(key);
    // Oldest first out (Map keeps insertion order): bounded whatever the traffic.
    while (this.#entries.size >= this.#o.maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) break;
      this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, { result, expiresAt });
  }
}
