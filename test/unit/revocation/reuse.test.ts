import { describe, expect, it } from 'vitest';
import { entryBytes, MemoryReuseStore, reuseKey } from '../../../src/revocation/reuse.js';
import type { ReuseKey } from '../../../src/revocation/reuse-store.js';

const NOW = 1_800_000_000;
const EXP = NOW + 300;
/** No retention past exp, so expiry tests read plainly. */
const exact = (maxEntries?: number) => new MemoryReuseStore({ maxEntries, retainAfterExpSeconds: 0 });

/** The token `jti` (issuer `iss`) as the store keys it. */
const k = (jti: string, iss = ''): ReuseKey => ({ policy: 'p', issuer: iss, jti });

/** One use through the ReuseStore interface, as a number: the count, or Infinity when full. */
function use(c: MemoryReuseStore, key: ReuseKey, exp: number, now: number): number {
  const o = c.use(key, exp, now);
  if (o.kind === 'unavailable') throw new Error('the in-memory store is never unavailable');
  return o.kind === 'counted' ? o.uses : Infinity;
}

describe('MemoryReuseStore', () => {
  it('counts uses per key', () => {
    const c = new MemoryReuseStore();
    const counts = [
      use(c, k('a'), EXP, NOW),
      use(c, k('a'), EXP, NOW),
      use(c, k('b'), EXP, NOW),
      use(c, k('a'), EXP, NOW + 1),
    ];
    expect(counts).toEqual([1, 2, 1, 3]);
    expect(c.stats().entries).toBe(2);
  });

  it('keeps counting within the clock-skew window past exp, by default', () => {
    const c = new MemoryReuseStore();
    use(c, k('a'), EXP, NOW);
    expect(use(c, k('a'), EXP, EXP + 30)).toBe(2);
    expect(use(c, k('a'), EXP, EXP + 299)).toBe(3);
    expect(c.sweep(EXP + 299)).toBe(0);
    expect(c.sweep(EXP + 300)).toBe(1);
  });

  it('starts over for a key whose entry has expired', () => {
    const c = exact();
    use(c, k('a'), EXP, NOW);
    use(c, k('a'), EXP, NOW);
    expect(use(c, k('a'), EXP + 600, EXP)).toBe(1);
    expect(use(c, k('a'), EXP + 600, EXP + 1)).toBe(2);
  });

  it('sweeps expired entries only', () => {
    const c = exact();
    use(c, k('short'), NOW + 10, NOW);
    use(c, k('long'), NOW + 1000, NOW);
    use(c, k('forever'), Infinity, NOW);
    expect(c.sweep(NOW + 10)).toBe(1);
    expect(c.stats().entries).toBe(2);
    expect(use(c, k('long'), NOW + 1000, NOW + 11)).toBe(2);
  });

  it('refuses (Infinity) a new key when full, rather than forgetting counts', () => {
    const c = exact(2);
    use(c, k('a'), EXP, NOW);
    use(c, k('b'), EXP, NOW);
    expect(use(c, k('c'), EXP, NOW)).toBe(Infinity);
    expect(c.stats().entries).toBe(2);
    // Known keys keep counting while full.
    expect(use(c, k('a'), EXP, NOW)).toBe(2);
  });

  it('makes room by sweeping when full', () => {
    const c = exact(2);
    use(c, k('a'), NOW + 5, NOW);
    use(c, k('b'), EXP, NOW);
    expect(use(c, k('c'), EXP, NOW + 5)).toBe(1);
    expect(c.stats().entries).toBe(2);
  });

  it('sweeps a full table at most once a second', () => {
    const c = exact(1);
    use(c, k('a'), NOW + 1.5, NOW);
    expect(use(c, k('b'), EXP, NOW + 1)).toBe(Infinity); // swept, nothing expired yet
    expect(use(c, k('b'), EXP, NOW + 1.6)).toBe(Infinity); // `a` expired, but no second sweep yet
    expect(use(c, k('b'), EXP, NOW + 2)).toBe(1);
  });

  it('clears', () => {
    const c = exact(1);
    use(c, k('a'), EXP, NOW);
    c.clear();
    expect(c.stats().entries).toBe(0);
    expect(use(c, k('b'), EXP, NOW)).toBe(1);
  });

  it.each([0, -1, 1.5, NaN])('refuses maxEntries %s', (maxEntries) => {
    expect(() => new MemoryReuseStore({ maxEntries })).toThrow(RangeError);
  });

  it.each([-1, NaN])('refuses retainAfterExpSeconds %s', (retainAfterExpSeconds) => {
    expect(() => new MemoryReuseStore({ retainAfterExpSeconds })).toThrow(RangeError);
  });
});

describe('reuseKey', () => {
  it('keeps issuer and jti apart', () => {
    expect(reuseKey('https://a/', 'x')).not.toBe(reuseKey('https://a/x', ''));
    expect(reuseKey('i', 'j')).toBe(reuseKey('i', 'j'));
  });
});

describe('MemoryReuseStore byte cap', () => {
  it('estimates entry bytes from the key and sums them', () => {
    const c = new MemoryReuseStore();
    use(c, k('a'.repeat(10)), EXP, NOW);
    use(c, k('b'.repeat(20)), EXP, NOW);
    expect(c.stats().bytes).toBe(
      entryBytes(reuseKey('', 'a'.repeat(10))) + entryBytes(reuseKey('', 'b'.repeat(20))),
    );
    c.sweep(EXP + 10_000);
    expect(c.stats().bytes).toBe(0);
  });

  it('fails closed at the byte cap: a new jti is refused, known ones keep counting, and it is counted', () => {
    const key = (i: number) => k(`jti-${String(i).padStart(4, '0')}`, 'https://auth.example.com/');
    const cap = entryBytes(reuseKey('https://auth.example.com/', 'jti-0000')) * 3;
    const c = new MemoryReuseStore({ maxBytes: cap });
    expect([use(c, key(1), EXP, NOW), use(c, key(2), EXP, NOW), use(c, key(3), EXP, NOW)]).toEqual([1, 1, 1]);
    expect(use(c, key(4), EXP, NOW)).toBe(Infinity);
    expect(c.stats().refusedFull).toBe(1);
    expect(use(c, key(1), EXP, NOW)).toBe(2); // a known jti is never forgotten
    expect(c.stats().bytes).toBeLessThanOrEqual(cap);
    // Once the entries expire (plus the retention margin), room is made by a sweep.
    expect(use(c, key(4), EXP, EXP + 301)).toBe(1);
  });
});

describe('MemoryReuseStore as a ReuseStore', () => {
  it('answers synchronously, with counted outcomes and a full outcome', () => {
    const c = exact(1);
    const first = c.use(k('a'), EXP, NOW);
    expect(first).not.toBeInstanceOf(Promise);
    expect(first).toEqual({ kind: 'counted', uses: 1 });
    expect(c.use(k('a'), EXP, NOW)).toEqual({ kind: 'counted', uses: 2 });
    expect(c.use(k('b'), EXP, NOW)).toEqual({ kind: 'full' });
  });

  it('counts one jti of two issuers apart, and past the shared outcomes', () => {
    const c = new MemoryReuseStore();
    expect(use(c, k('j', 'https://a/'), EXP, NOW)).toBe(1);
    expect(use(c, k('j', 'https://b/'), EXP, NOW)).toBe(1);
    for (let i = 2; i <= 100; i++) expect(use(c, k('j', 'https://a/'), EXP, NOW)).toBe(i);
  });

  it('reports its stats: kind, entries, bytes against the cap, refusals', () => {
    const c = new MemoryReuseStore({ maxEntries: 1, maxBytes: 10_000 });
    use(c, k('a'), EXP, NOW);
    use(c, k('b'), EXP, NOW);
    expect(c.stats()).toEqual({
      kind: 'memory',
      entries: 1,
      bytes: entryBytes(reuseKey('', 'a')),
      capacityBytes: 10_000,
      refusedFull: 1,
      unavailable: 0,
    });
  });
});
