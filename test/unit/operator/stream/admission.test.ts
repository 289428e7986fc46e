import { describe, expect, it } from 'vitest';
import { Admission, DEFAULT_ADMISSION } from '../../../../src/operator/stream/admission.js';

const O = { ...DEFAULT_ADMISSION, reviewsPerSecond: 10, reviewBurst: 3, maxConcurrentReviews: 2 };

describe('admission', () => {
  it('caps reviews in flight', () => {
    const a = new Admission(O, 0);
    expect(a.startReview(0)).toBeUndefined();
    expect(a.startReview(0)).toBeUndefined();
    expect(a.startReview(0)).toBe('reviews_saturated');
    a.reviewDone();
    expect(a.startReview(0)).toBeUndefined();
  });

  it('spends the burst, then refills at the rate', () => {
    const a = new Admission({ ...O, maxConcurrentReviews: 100 }, 0);
    for (let i = 0; i < 3; i++) expect(a.startReview(0)).toBeUndefined();
    expect(a.startReview(0)).toBe('review_rate_limited');
    expect(a.startReview(50)).toBe('review_rate_limited');
    expect(a.startReview(100)).toBeUndefined();
    // Never more than the burst, however long the quiet spell.
    for (let i = 0; i < 3; i++) expect(a.startReview(1_000_000)).toBeUndefined();
    expect(a.startReview(1_000_000)).toBe('review_rate_limited');
  });

  it('caps sessions on the replica and per pod', () => {
    const a = new Admission({ ...O, maxSessions: 5, sessionsPerPod: 2 }, 0);
    expect(a.session(4, 1)).toBeUndefined();
    expect(a.session(4, 2)).toBe('pod_session_limit');
    expect(a.session(5, 0)).toBe('too_many_sessions');
  });
});
