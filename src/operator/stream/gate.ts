/**
 * The door of the config stream: a token is authenticated from the cache when it can be, else
 * against the API server's service-account keys (pod-token.ts), else by a TokenReview that the
 * admission limits allow; then the session caps. Everything a refused caller could make the
 * operator spend is bounded before it is spent.
 */
import type { OperatorMetrics } from '../../metrics/operator.js';
import { Admission, DEFAULT_ADMISSION, type AdmissionOptions, type AdmissionRefusal } from './admission.js';
import type { Authenticated } from './auth.js';
import type { PodTokenCheck } from './pod-token.js';
import { DEFAULT_REVIEW_CACHE, ReviewCache, tokenExpiryMs, type ReviewCacheOptions } from './review-cache.js';

export type GateAnswer = Authenticated | { readonly ok: false; readonly shed: AdmissionRefusal };

export interface GateOptions {
  readonly review: (token: string) => Promise<Authenticated>;
  /**
   * A local check against the service-account keys (service-account-keys.ts); what it leaves
   * `undecided` goes to `review`. Absent: every uncached token is reviewed.
   */
  readonly verify?: (token: string) => PodTokenCheck;
  readonly admission?: AdmissionOptions;
  readonly cache?: ReviewCacheOptions;
  readonly metrics?: OperatorMetrics;
  readonly now?: () => number;
}

const expired: Authenticated = {
  ok: false,
  status: 401,
  reason: 'token_invalid',
  message: 'token is expired',
};

export class StreamGate {
  readonly admission: Admission;
  readonly cache: ReviewCache;
  readonly #o: GateOptions;
  readonly #now: () => number;

  constructor(o: GateOptions) {
    this.#o = o;
    this.#now = o.now ?? Date.now;
    this.admission = new Admission(o.admission ?? DEFAULT_ADMISSION, this.#now());
    this.cache = new ReviewCache({ ...(o.cache ?? DEFAULT_REVIEW_CACHE), now: this.#now });
  }

  /** Who holds `token`: from the cache, the service-account keys, or a TokenReview the limits allow. */
  async authenticate(token: string): Promise<GateAnswer> {
    const hit = this.cache.get(token);
    if (hit !== undefined) {
      this.#o.metrics?.tokenReviews.inc({ result: 'cached' });
      return hit;
    }
    // A token whose own exp has passed is refused for free; the API server would refuse it too.
    const exp = tokenExpiryMs(token);
    if (exp !== undefined && exp <= this.#now()) return expired;
    const local = this.#o.verify?.(token);
    if (local !== undefined && local.ok !== 'undecided') {
      this.#o.metrics?.tokenReviews.inc({ result: local.ok ? 'verified' : 'refused' });
      if (local.ok) this.cache.remember(token, local);
      return local;
    }
    const shed = this.admission.startReview(this.#now());
    if (shed !== undefined) return { ok: false, shed };
    try {
      return await this.cache.review(token, this.#counted);
    } finally {
      this.admission.reviewDone();
    }
  }

  /** The TokenReview itself, counted (requests that joined one in flight are not). */
  readonly #counted = (token: string): Promise<Authenticated> => {
    this.#o.metrics?.tokenReviews.inc({ result: 'reviewed' });
    return this.#o.review(token);
  };

  /** Whether one more session may open (the replica's and the pod's open sessions). */
  session(open: number, openForPod: number): AdmissionRefusal | undefined {
    return this.admission.session(open, openForPod);
  }

  get retryAfterSeconds(): number {
    return this.admission.o.retryAfterSeconds;
  }

  /** The replica's session cap (also the most requests that wait for the caches at once). */
  get maxSessions(): number {
    return this.admission.o.maxSessions;
  }
}
