import { describe, expect, it } from 'vitest';
import {
  ReconnectBackoff,
  DEFAULT_BACKOFF,
  MAX_RETRY_AFTER_MS,
  backoffCeiling,
  retryAfterDelay,
} from '../../../../src/sidecar/control-plane/reconnect-backoff.js';

const OPTS = { baseMs: 500, capMs: 30_000, resetAfterMs: 30_000 };

describe('backoff with full jitter', () => {
  it('doubles the ceiling per attempt up to the cap', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 50].map((a) => backoffCeiling(a, OPTS))).toEqual([
      500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000,
    ]);
  });

  it('draws each delay uniformly below the ceiling (random injected)', () => {
    const draws = [0.999, 0.5, 0, 0.25];
    const b = new ReconnectBackoff({ ...OPTS, random: () => draws.shift() ?? 0 });
    expect([b.next(), b.next(), b.next(), b.next()]).toEqual([499, 500, 0, 1000]);
    expect(b.attempt).toBe(4);
  });

  it('never exceeds the cap however many attempts', () => {
    const b = new ReconnectBackoff({ ...OPTS, random: () => 0.9999999 });
    let max = 0;
    for (let i = 0; i < 100; i++) max = Math.max(max, b.next());
    expect(max).toBeLessThan(30_000);
    expect(max).toBeGreaterThan(29_000);
  });

  it('starts over only after a connection stayed healthy long enough', () => {
    const b = new ReconnectBackoff({ ...OPTS, random: () => 0.5 });
    b.next();
    b.next();
    b.next();
    b.ended(29_999);
    expect(b.attempt).toBe(3);
    expect(b.next()).toBe(2000);
    b.ended(30_000);
    expect(b.attempt).toBe(0);
    expect(b.next()).toBe(250);
  });

  it('caps the default so every sidecar is back within a second of an operator returning', () => {
    expect(backoffCeiling(100, DEFAULT_BACKOFF)).toBe(1_000);
    const b = new ReconnectBackoff({ ...DEFAULT_BACKOFF, random: () => 0.9999999 });
    for (let i = 0; i < 50; i++) expect(b.next()).toBeLessThan(1_000);
  });

  it('honours a Retry-After over a shorter draw', () => {
    const b = new ReconnectBackoff({ ...OPTS, random: () => 0 });
    expect(b.next(1_500)).toBe(1_500);
    expect(b.next()).toBe(0);
  });
});

describe('Retry-After', () => {
  it('reads delta-seconds, adds jitter, clamps to the bound', () => {
    expect(retryAfterDelay('1', () => 0)).toBe(1_000);
    expect(retryAfterDelay(' 2 ', () => 0.5)).toBe(2_500);
    expect(retryAfterDelay('0', () => 0.9999)).toBeLessThan(250);
    expect(retryAfterDelay('3600', () => 0)).toBe(MAX_RETRY_AFTER_MS);
    expect(retryAfterDelay('999999999', () => 0.9999)).toBeLessThan(MAX_RETRY_AFTER_MS + 1_000);
  });

  it('ignores what is not delta-seconds', () => {
    for (const h of [undefined, '', '-1', '1.5', 'Wed, 21 Oct 2026 07:28:00 GMT', '1e3', '12345678901'])
      expect(retryAfterDelay(h, () => 0)).toBeUndefined();
  });
});
