import { describe, expect, it } from 'vitest';
import { entryBytes, ReuseCounter, reuseKey } from '../../../src/revocation/reuse.js';

const NOW = 1_800_000_000;
const EXP = NOW + 300;
/** No retention past exp, so expiry tests read plainly. */
const exact = (maxEntries?: number) => new ReuseCounter({ maxEntries, retainAfterExpSeconds: 0 });

describe('ReuseCounter', () => {
  it('counts uses per key', () => {
    const c = new ReuseCounter();
    const counts = [
      c.use('a', EXP, NOW),
      c.use('a', EXP, NOW),
      c.use('b', EXP, NOW),
      c.use('a', EXP, NOW + 1),
    ];
    expect(counts).toEqual([1, 2, 1, 3]);
    expect(c.size).toBe(2);
  });

  it('keeps counting within the clock-skew window past exp, by default', () => {
    const c = new ReuseCounter();
    c.use('a', EXP, NOW);
    expect(c.use('a', EXP, EXP + 30)).toBe(2);
    expect(c.use('a', EXP, EXP + 299)).toBe(3);
    expect(c.sweep(EXP + 299)).toBe(0);
    expect(c.sweep(EXP + 300)).toBe(1);
  });

  it('starts over for a key whose entry has expired', () => {
    const c = exact();
    c.use('a', EXP, NOW);
    c.use('a', EXP, NOW);
    expect(c.use('a', EXP + 600, EXP)).toBe(1);
    expect(c.use('a', EXP + 600, EXP + 1)).toBe(2);
  });

  it('sweeps expired entries only', () => {
    const c = exact();
    c.use('short', NOW + 10, NOW);
    c.use('long', NOW + 1000, NOW);
    c.use('forever', Infinity, NOW);
    expect(c.sweep(NOW + 10)).toBe(1);
    expect(c.size).toBe(2);
    expect(c.use('long', NOW + 1000, NOW + 11)).toBe(2);
  });

  it('refuses (Infinity) a new key when full, rather than forgetting counts', () => {
    const c = exact(2);
    c.use('a', EXP, NOW);
    c.use('b', EXP, NOW);
    expect(c.use('c', EXP, NOW)).toBe(Infinity);
    expect(c.size).toBe(2);
    // Known keys keep counting while full.
    expect(c.use('a', EXP, NOW)).toBe(2);
  });

  it('makes room by sweeping when full', () => {
    const c = exact(2);
    c.use('a', NOW + 5, NOW);
    c.use('b', EXP, NOW);
    expect(c.use('c', EXP, NOW + 5)).toBe(1);
    expect(c.size).toBe(2);
  });

  it('sweeps a full table at most once a second', () => {
    const c = exact(1);
    c.use('a', NOW + 1.5, NOW);
    expect(c.use('b', EXP, NOW + 1)).toBe(Infinity); // swept, nothing expired yet
    expect(c.use('b', EXP, NOW + 1.6)).toBe(Infinity); // `a` expired, but no second sweep yet
    expect(c.use('b', EXP, NOW + 2)).toBe(1);
  });

  it('clears', () => {
    const c = exact(1);
    c.use('a', EXP, NOW);
    c.clear();
    expect(c.size).toBe(0);
    expect(c.use('b', EXP, NOW)).toBe(1);
  });

  it.each([0, -1, 1.5, NaN])('refuses maxEntries %s', (maxEntries) => {
    expect(() => new ReuseCounter({ maxEntries })).toThrow(RangeError);
  });

  it.each([-1, NaN])('refuses retainAfterExpSeconds %s', (retainAfterExpSeconds) => {
    expect(() => new ReuseCounter({ retainAfterExpSeconds })).toThrow(RangeError);
  });
});

describe('reuseKey', () => {
  it('keeps issuer and jti apart', () => {
    expect(reuseKey('https://a/', 'x')).not.toBe(reuseKey('https://a/x', ''));
    expect(reuseKey('i', 'j')).toBe(reuseKey('i', 'j'));
  });
});

describe('ReuseCounter byte cap', () => {
  it('estimates entry bytes from the key and sums them', () => {
    const c = new ReuseCounter();
    c.use('a'.repeat(10), EXP, NOW);
    c.use('b'.repeat(20), EXP, NOW);
    expect(c.bytes).toBe(entryBytes('a'.repeat(10)) + entryBytes('b'.repeat(20)));
    c.sweep(EXP + 10_000);
    expect(c.bytes).toBe(0);
  });

  it('fails closed at the byte cap: a new jti is refused, known ones keep counting, and it is counted', () => {
    const key = (i: number) => reuseKey('https://auth.example.com/', `jti-${String(i).padStart(4, '0')}`);
    const cap = entryBytes(key(0)) * 3;
    const c = new ReuseCounter({ maxBytes: cap });
    expect([c.use(key(1), EXP, NOW), c.use(key(2), EXP, NOW), c.use(key(3), EXP, NOW)]).toEqual([1, 1, 1]);
    expect(c.use(key(4), EXP, NOW)).toBe(Infinity);
    expect(c.refusedFull).toBe(1);
    expect(c.use(key(1), EXP, NOW)).toBe(2); // a known jti is never forgotten
    expect(c.bytes).toBeLessThanOrEqual(cap);
    // Once the entries expire (plus the retention margin), room is made by a sweep.
    expect(c.use(key(4), EXP, EXP + 301)).toBe(1);
  });
});
