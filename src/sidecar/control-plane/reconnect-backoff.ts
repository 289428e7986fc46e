/**
 * Reconnect delays: exponential backoff with full jitter (AWS Architecture Blog, "Exponential
 * Backoff and Jitter"): delay = random() × min(cap, base × 2^attempt). Full jitter spreads a
 * thousand sidecars that lost the same operator replica over the whole window instead of
 * reconnecting in waves. The attempt counter resets once a connection has stayed healthy for
 * `resetAfterMs`, so a stream that dies right after connecting keeps backing off.
 */
import { exponentialDelay } from '../../core/exponential-delay.js';

export interface BackoffOptions {
  baseMs: number;
  capMs: number;
  resetAfterMs: number;
  /** [0, 1); Math.random by default (injected in tests). */
  random?: () => number;
}

/**
 * A short cap: when an operator replica comes back, every sidecar must be connected again within
 * about a second (ADR 0011). The storm this could cause is the operator's to shed (503 +
 * Retry-After, honoured below), not the sidecars' to avoid by sleeping for half a minute.
 */
export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 100, capMs: 1_000, resetAfterMs: 30_000 };

/** The longest `Retry-After` a sidecar honours: a confused operator cannot park it for an hour. */
export const MAX_RETRY_AFTER_MS = 5_000;

/**
 * The delay a `Retry-After` header asks for, in ms: the header's seconds (clamped to
 * MAX_RETRY_AFTER_MS) plus up to one more second of jitter, so the sidecars an operator shed
 * together do not come back together. undefined when the header is absent or not delta-seconds
 * (an HTTP date is not honoured: the clocks of pod and operator need not agree).
 */
export function retryAfterDelay(
  header: string | undefined,
  random: () => number = Math.random,
): number | undefined {
  if (header === undefined || !/^\s*\d{1,9}\s*$/.test(header)) return undefined;
  const asked = Math.min(Number(header.trim()) * 1000, MAX_RETRY_AFTER_MS);
  return asked + Math.floor(random() * Math.min(1_000, Math.max(asked, 250)));
}

/** The upper bound of the delay before attempt number `attempt` (0-based). */
export function backoffCeiling(attempt: number, o: Pick<BackoffOptions, 'baseMs' | 'capMs'>): number {
  return exponentialDelay(attempt, o.baseMs, o.capMs);
}

export class ReconnectBackoff {
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

  /**
   * The delay before the next connection attempt, and counts it. `atLeastMs` (a Retry-After the
   * operator sent) wins over a shorter draw.
   */
  next(atLeastMs = 0): number {
    const delay = Math.floor(this.#random() * backoffCeiling(this.#attempt, this.#o));
    this.#attempt++;
    return Math.max(delay, atLeastMs);
  }

  /** A connection that ended after being healthy for `healthyMs`: start over when long enough. */
  ended(healthyMs: number): void {
    if (healthyMs >= this.#o.resetAfterMs) this.#attempt = 0;
  }
}
