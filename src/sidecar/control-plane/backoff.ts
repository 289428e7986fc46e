/**
 * Reconnect delays: exponential backoff with full jitter (AWS Architecture Blog, "Exponential
 * Backoff and Jitter"): delay = random() × min(cap, base × 2^attempt). Full jitter spreads a
 * thousand sidecars that lost the same operator replica over the whole window instead of
 * reconnecting in waves. The attempt counter resets once a connection has stayed healthy for
 * `resetAfterMs`, so a stream that dies right after connecting keeps backing off.
 */
export interface BackoffOptions {
  baseMs: number;
  capMs: number;
  resetAfterMs: number;
  /** [0, 1); Math.random by default (injected in tests). */
  random?: () => number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 500, capMs: 30_000, resetAfterMs: 30_000 };

/** The upper bound of the delay before attempt number `attempt` (0-based). */
export function backoffCeiling(attempt: number, o: Pick<BackoffOptions, 'baseMs' | 'capMs'>): number {
  // 2^attempt overflows nothing before it passes any cap; clamp the exponent anyway.
  return Math.min(o.capMs, o.baseMs * 2 ** Math.min(attempt, 30));
}

export class Backoff {
  readonly #o: BackoffOptions;
  readonly #random: () => number;
  #attempt = 0;

  constructor(options: BackoffOptions = DEFAULT_BACKOFF) {
    this.#o = options;
    this.#random = options.random ?? Math.random;
  }

  get attempt(): number {
    return this.#attempt;
  }

  /** The delay before the next connection attempt, and counts it. */
  next(): number {
    const delay = Math.floor(this.#random() * backoffCeiling(this.#attempt, this.#o));
    this.#attempt++;
    return delay;
  }

  /** A connection that ended after being healthy for `healthyMs`: start over when long enough. */
  ended(healthyMs: number): void {
    if (healthyMs >= this.#o.resetAfterMs) this.#attempt = 0;
  }
}
