import { describe, expect, it } from 'vitest';
import { Backoff, backoffCeiling } from '../../../../src/sidecar/control-plane/backoff.js';

const OPTS = { baseMs: 500, capMs: 30_000, resetAfterMs: 30_000 };

describe('backoff with full jitter', () => {
  it('doubles the ceiling per attempt up to the cap', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 50].map((a) => backoffCeiling(a, OPTS))).toEqual([
      500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000,
    ]);
  });

  it('draws each delay uniformly below the ceiling (random injected)', () => {
    const draws = [0.999, 0.5, 0, 0.25];
    const b = new Backoff({ ...OPTS, random: () => draws.shift() ?? 0 });
    expect([b.next(), b.next(), b.next(), b.next()]).toEqual([499, 500, 0, 1000]);
    expect(b.attempt).toBe(4);
  });

  it('never exceeds the cap however many attempts', () => {
    const b = new Backoff({ ...OPTS, random: () => 0.9999999 });
    let max = 0;
    for (let i = 0; i < 100; i++) max = Math.max(max, b.next());
    expect(max).toBeLessThan(30_000);
    expect(max).toBeGreaterThan(29_000);
  });

  it('starts over only after a connection stayed healthy long enough', () => {
    const b = new Backoff({ ...OPTS, random: () => 0.5 });
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
});
