/**
 * Who may open a config stream, and when the operator says "later": the limits that keep a
 * reconnect storm or a flood of garbage tokens from stalling a replica. Pure bookkeeping with
 * `now` passed in; the route turns a refusal into 503 + Retry-After (429 for a pod over its
 * own cap), each counted in tokenwarden_operator_stream_errors_total{reason}.
 *
 *   before authentication: a token bucket and a concurrency cap on TokenReviews that miss the
 *   cache (a flood of fresh garbage costs the API server at most `reviewsPerSecond`);
 *   after: at most `sessionsPerPod` streams per pod uid, at most `maxSessions` on the replica.
 */
export interface AdmissionOptions {
  /** TokenReviews (cache misses) per second, refilled continuously. */
  readonly reviewsPerSecond: number;
  /** Bucket size: how many reviews may go out at once after a quiet spell (a whole fleet reconnecting). */
  readonly reviewBurst: number;
  /** TokenReviews in flight at once. */
  readonly maxConcurrentReviews: number;
  readonly sessionsPerPod: number;
  readonly maxSessions: number;
  /** Seconds a shed client is told to wait (sidecars add jitter). */
  readonly retryAfterSeconds: number;
}

export const DEFAULT_ADMISSION: AdmissionOptions = {
  reviewsPerSecond: 500,
  reviewBurst: 1_000,
  maxConcurrentReviews: 64,
  sessionsPerPod: 3,
  maxSessions: 10_000,
  retryAfterSeconds: 1,
};

/** Why a stream was refused before it opened (a closed set; metric label values). */
export type AdmissionRefusal =
  'review_rate_limited' | 'reviews_saturated' | 'too_many_sessions' | 'pod_session_limit';

export class Admission {
  readonly o: AdmissionOptions;
  #tokens: number;
  #refilledAt: number;
  #reviewing = 0;

  constructor(options: AdmissionOptions = DEFAULT_ADMISSION, now: number = Date.now()) {
    this.o = options;
    this.#tokens = options.reviewBurst;
    this.#refilledAt = now;
  }

  /** Takes one TokenReview slot, or says why not. Call `reviewDone` once for every slot taken. */
  startReview(now: number): AdmissionRefusal | undefined {
    if (this.#reviewing >= this.o.maxConcurrentReviews) return 'reviews_saturated';
    const elapsed = Math.max(0, now - this.#refilledAt);
    this.#tokens = Math.min(this.o.reviewBurst, this.#tokens + (elapsed / 1000) * this.o.reviewsPerSecond);
    this.#refilledAt = now;
    if (this.#tokens < 1) return 'review_rate_limited';
    this.#tokens -= 1;
    this.#reviewing++;
    return undefined;
  }

  reviewDone(): void {
    if (this.#reviewing > 0) this.#reviewing--;
  }

  get reviewing(): number {
    return this.#reviewing;
  }

  /** Whether one more session may open, given the replica's and the pod's open sessions. */
  session(open: number, openForPod: number): AdmissionRefusal | undefined {
    if (open >= this.o.maxSessions) return 'too_many_sessions';
    if (openForPod >= this.o.sessionsPerPod) return 'pod_session_limit';
    return undefined;
  }
}
