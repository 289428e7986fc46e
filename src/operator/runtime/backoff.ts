/**
 * Exponential backoff, shared by the work queue (per key), the informers (per watch) and the
 * leader elector. Pure: the random source is passed in so tests can pin it.
 */
import { exponentialDelay } from '../../core/exponential-delay.js';

export interface BackoffLimits {
  readonly baseMs: number;
  readonly maxMs: number;
}

/** Delay before attempt number `failures` (1 = after the first failure): base·2^(n−1), capped. */
export function backoffDelay(failures: number, b: BackoffLimits): number {
  return failures <= 0 ? 0 : exponentialDelay(failures - 1, b.baseMs, b.maxMs);
}

/**
 * Adds up to `fraction` of random jitter so replicas that lost the same watch at the same
 * moment do not all come back at the same moment.
 */
export function withJitter(ms: number, fraction = 0.2, random: () => number = Math.random): number {
  return Math.round(ms * (1 + fraction * random()));
}
