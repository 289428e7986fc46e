import { describe, expect, it } from 'vitest';
import { entryBytes, VerifiedTokenCache } from '../../../src/token/cache.js';
import { wholeTokenSha256 } from '../../../src/token/hash.js';
import type { Verified } from '../../../src/token/verify.js';
import { NOW, issuer, policy } from '../../support/tokens.js';

const pol = policy([issuer({ kind: 'inline', keys: [] })]);

function verified(fields: Partial<Verified> = {}): Verified {
  return {
    ok: true,
    claims: { sub: 'user-42' },
    header: { alg: 'RS256' },
    tokenSha256: 'a'.repeat(64),
    fingerprint: 'a'.repeat(12),
    exp: NOW + 600,
    cacheUntil: NOW + 600,
    ...fields,
  };
}

describe('VerifiedTokenCache lifetime', () => {
  const cases = [
    { name: 'returns an entry before its cacheUntil', cacheUntil: NOW + 10, at: NOW + 9, hit: true },
    {
      name: 'never returns an entry at its cacheUntil (exp)',
      cacheUntil: NOW + 10,
      at: NOW + 10,
      hit: false,
    },
    { name: 'never returns an entry after its cacheUntil', cacheUntil: NOW + 10, at: NOW + 11, hit: false },
    { name: 'gives an entry without cacheUntil the max TTL', cacheUntil: undefined, at: NOW + 59, hit: true },
    {
      name: 'drops an entry without cacheUntil at the max TTL',
      cacheUntil: undefined,
      at: NOW + 60,
      hit: false,
    },
  ];

  it.each(cases)('$name', ({ cacheUntil, at, hit }) => {
    const cache = new VerifiedTokenCache({ maxTtlSeconds: 60 });
    cache.sync(pol, 0);
    const value = verified({ cacheUntil, exp: cacheUntil });
    cache.set('k', value, NOW);
    expect(cache.get('k', at)).toBe(hit ? value : undefined);
  });

  it('does not store an entry that is already dead', () => {
    const cache = new VerifiedTokenCache();
    cache.set('k', verified({ cacheUntil: NOW }), NOW);
    expect(cache.size).toBe(0);
  });

  it('forgets an entry once it has been found dead', () => {
    const cache = new VerifiedTokenCache();
    cache.set('k', verified({ cacheUntil: NOW + 1 }), NOW);
    cache.get('k', NOW + 1);
    expect(cache.size).toBe(0);
  });
});

describe('VerifiedTokenCache keying', () => {
  it('a forged signature on a cached token misses: the key covers the signature', () => {
    const cache = new VerifiedTokenCache();
    const genuine = 'aGVhZGVy.cGF5bG9hZA.Z2VudWluZQ';
    const forged = 'aGVhZGVy.cGF5bG9hZA.Zm9yZ2Vk';
    cache.set(wholeTokenSha256(genuine), verified(), NOW);
    expect(cache.get(wholeTokenSha256(genuine), NOW)).toBeDefined();
    expect(cache.get(wholeTokenSha256(forged), NOW)).toBeUndefined();
  });
});

describe('VerifiedTokenCache bound', () => {
  it('evicts the least recently used entry when full', () => {
    const cache = new VerifiedTokenCache({ maxEntries: 3 });
    for (const k of ['a', 'b', 'c']) cache.set(k, verified(), NOW);
    cache.get('a', NOW); // a is now the most recently used: b is the oldest
    cache.set('d', verified(), NOW);
    expect(cache.size).toBe(3);
    expect(cache.get('b', NOW)).toBeUndefined();
    for (const k of ['a', 'c', 'd']) expect(cache.get(k, NOW)).toBeDefined();
  });

  it('replacing an entry does not evict another', () => {
    const cache = new VerifiedTokenCache({ maxEntries: 2 });
    cache.set('a', verified(), NOW);
    cache.set('b', verified(), NOW);
    const newer = verified({ fingerprint: 'b'.repeat(12) });
    cache.set('a', newer, NOW);
    expect(cache.size).toBe(2);
    expect(cache.get('a', NOW)).toBe(newer);
    expect(cache.get('b', NOW)).toBeDefined();
  });

  it('holds 10,000 entries by default', () => {
    const cache = new VerifiedTokenCache();
    for (let i = 0; i < 10_005; i++) cache.set(String(i), verified(), NOW);
    expect(cache.size).toBe(10_000);
    expect(cache.get('0', NOW)).toBeUndefined();
    expect(cache.get('10004', NOW)).toBeDefined();
  });

  it('refuses a nonsensical configuration', () => {
    expect(() => new VerifiedTokenCache({ maxEntries: 0 })).toThrow('maxEntries');
    expect(() => new VerifiedTokenCache({ maxTtlSeconds: Number.NaN })).toThrow('maxTtlSeconds');
  });
});

describe('VerifiedTokenCache.sync', () => {
  const cases = [
    { name: 'keeps entries for the same policy and key version', policy: () => pol, keys: 0, kept: true },
    {
      name: 'keeps entries across a recompile of the same spec',
      policy: () => policy([...pol.issuers.values()]),
      keys: 0,
      kept: true,
    },
    {
      name: 'clears entries when the policy spec changes',
      policy: () => policy([...pol.issuers.values()], {}, 'spec-2'),
      keys: 0,
      kept: false,
    },
    { name: 'clears entries when the keys change', policy: () => pol, keys: 1, kept: false },
  ];

  it.each(cases)('$name', ({ policy: next, keys, kept }) => {
    const cache = new VerifiedTokenCache();
    cache.sync(pol, 0);
    cache.set('k', verified(), NOW);
    cache.sync(next(), keys);
    expect(cache.get('k', NOW) !== undefined).toBe(kept);
  });
});

describe('VerifiedTokenCache byte cap', () => {
  it('evicts to stay under maxBytes and reports its estimated size', () => {
    const one = entryBytes(verified());
    const c = new VerifiedTokenCache({ maxEntries: 1000, maxBytes: one * 5 });
    c.sync(pol, 1);
    for (let i = 0; i < 50; i++) c.set(wholeTokenSha256(`t${i}`), verified(), NOW);
    expect(c.size).toBe(5);
    expect(c.bytes).toBe(one * 5);
    expect(c.get(wholeTokenSha256('t49'), NOW)).toBeDefined();
    expect(c.get(wholeTokenSha256('t0'), NOW)).toBeUndefined();
  });

  it('does not cache an entry larger than the whole cap', () => {
    const c = new VerifiedTokenCache({ maxBytes: 100 });
    c.sync(pol, 1);
    c.set(wholeTokenSha256('t'), verified(), NOW);
    expect(c.size).toBe(0);
    expect(c.bytes).toBe(0);
  });

  it('counts bytes down on expiry, replacement and clear', () => {
    const c = new VerifiedTokenCache();
    c.sync(pol, 1);
    c.set(wholeTokenSha256('a'), verified({ cacheUntil: NOW + 1 }), NOW);
    c.set(wholeTokenSha256('b'), verified(), NOW);
    c.set(wholeTokenSha256('b'), verified({ claims: { sub: 'a-longer-subject-than-before' } }), NOW);
    expect(c.get(wholeTokenSha256('a'), NOW + 1)).toBeUndefined();
    expect(c.bytes).toBe(entryBytes(verified({ claims: { sub: 'a-longer-subject-than-before' } })));
    c.clear();
    expect(c.bytes).toBe(0);
  });
});

describe('VerifiedTokenCache lookup counters', () => {
  it('counts a live entry as a hit, an absent or dead one as a miss', () => {
    const cache = new VerifiedTokenCache();
    cache.sync(pol, 0);
    expect([cache.hits, cache.misses]).toEqual([0, 0]);
    cache.get('absent', NOW);
    cache.set('live', verified(), NOW);
    cache.get('live', NOW);
    cache.get('live', NOW + 1);
    cache.set('dying', verified({ cacheUntil: NOW + 1 }), NOW);
    cache.get('dying', NOW + 1); // dead at its cacheUntil: a miss, and gone
    cache.get('dying', NOW + 1); // absent now: another miss
    expect(cache.hits).toBe(2);
    expect(cache.misses).toBe(3);
  });

  it('counts lookups only: storing, evicting and clearing leave the counters alone', () => {
    const cache = new VerifiedTokenCache({ maxEntries: 1 });
    cache.sync(pol, 0);
    cache.set('a', verified(), NOW);
    cache.set('b', verified(), NOW); // evicts a
    cache.sync(pol, 1); // clears
    cache.clear();
    expect([cache.hits, cache.misses]).toEqual([0, 0]);
    expect(cache.get('b', NOW)).toBeUndefined();
    expect([cache.hits, cache.misses]).toEqual([0, 1]);
  });
});

describe('entryBytes', () => {
  it('sizes an entry from the JSON length the verifier measured, else by serialising', () => {
    expect(entryBytes(verified({ jsonBytes: 300 }))).toBe(512 + 600);
    const v = verified();
    expect(entryBytes(v)).toBe(512 + 2 * (JSON.stringify(v.claims).length + JSON.stringify(v.header).length));
  });
});

describe('VerifiedTokenCache admission on the second sighting (the sidecar’s setting)', () => {
  const key = (s: string): string => wholeTokenSha256(s);

  it('a token verified once is not cached; verified again, it is', () => {
    const cache = new VerifiedTokenCache({ admitOnSecondSighting: true });
    cache.sync(pol, 0);
    cache.set(key('t1'), verified(), NOW);
    expect(cache.size).toBe(0);
    expect(cache.get(key('t1'), NOW)).toBeUndefined();
    cache.set(key('t1'), verified(), NOW);
    expect(cache.size).toBe(1);
    expect(cache.get(key('t1'), NOW)).toBeDefined();
  });

  it('a stream of tokens each seen once leaves the cache empty (no entry, no eviction of repeating tokens)', () => {
    const cache = new VerifiedTokenCache({ admitOnSecondSighting: true, maxEntries: 10 });
    cache.sync(pol, 0);
    cache.set(key('repeats'), verified(), NOW);
    cache.set(key('repeats'), verified(), NOW);
    for (let i = 0; i < 5_000; i++) cache.set(key(`once-${i}`), verified(), NOW);
    expect(cache.size).toBe(1);
    expect(cache.get(key('repeats'), NOW)).toBeDefined();
  });

  it('two tokens that share a doorkeeper slot and alternate are both cached (the other slot tells them apart)', () => {
    const cache = new VerifiedTokenCache({ admitOnSecondSighting: true });
    cache.sync(pol, 0);
    // Synthetic keys: the same first 16 bits (slot a), different second 16 bits and tags.
    const x = 'abcd0001' + '11111111' + 'f'.repeat(48);
    const y = 'abcd0002' + '22222222' + 'f'.repeat(48);
    for (let i = 0; i < 3; i++) {
      cache.set(x, verified(), NOW);
      cache.set(y, verified(), NOW);
    }
    expect(cache.get(x, NOW)).toBeDefined();
    expect(cache.get(y, NOW)).toBeDefined();
  });

  it('of a 1,000-token pool seen twice each, every token is cached', () => {
    const cache = new VerifiedTokenCache({ admitOnSecondSighting: true });
    cache.sync(pol, 0);
    for (let pass = 0; pass < 2; pass++)
      for (let i = 0; i < 1000; i++) cache.set(key(`pool-${i}`), verified(), NOW);
    expect(cache.size).toBe(1000);
  });

  it('clear() forgets first sightings too', () => {
    const cache = new VerifiedTokenCache({ admitOnSecondSighting: true });
    cache.sync(pol, 0);
    cache.set(key('t'), verified(), NOW);
    cache.clear();
    cache.set(key('t'), verified(), NOW);
    expect(cache.size).toBe(0);
  });

  it('without the option every verified token is cached at once (the default)', () => {
    const cache = new VerifiedTokenCache();
    cache.sync(pol, 0);
    cache.set(key('t'), verified(), NOW);
    expect(cache.size).toBe(1);
  });
});
