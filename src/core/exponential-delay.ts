/**
 * Capped exponential growth, the one formula behind every retry delay: the operator's work
 * queue, informers and elector (src/operator/runtime/backoff.ts) and the sidecar's stream
 * reconnects (src/sidecar/control-plane/reconnect-backoff.ts, which draws a delay under it).
 */

/** base·2^step, at most `capMs`; step 0 is `baseMs`. */
export function exponentialDelay(step: number, baseMs: number, capMs: number): number {
  // 2^30 already exceeds any sane cap; bounding the exponent keeps the arithmetic finite.
  return Math.min(capMs, baseMs * 2 ** Math.min(step, 30));
}
