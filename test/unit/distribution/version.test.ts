import { describe, expect, it } from 'vitest';
import { canonicalJson, bundleVersion, digest } from '../../../src/distribution/version.js';

describe('canonicalJson', () => {
  it('orders keys at every level and drops undefined members', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { y: 1, x: 0 }], c: undefined } })).toBe(
      '{"a":{"d":[2,{"x":0,"y":1}]},"b":1}',
    );
  });
});

describe('bundleVersion', () => {
  const p = digest({ spec: 1 });
  const k = digest({});
  it('is the same whatever order the revocations come in', () => {
    expect(
      bundleVersion(p, k, [
        ['a', '1'],
        ['b', '2'],
      ]),
    ).toBe(
      bundleVersion(p, k, [
        ['b', '2'],
        ['a', '1'],
      ]),
    );
  });
  it.each([
    {
      name: 'a revocation changes',
      other: bundleVersion(p, k, [
        ['a', '1'],
        ['b', '3'],
      ]),
    },
    { name: 'a revocation goes', other: bundleVersion(p, k, [['a', '1']]) },
    {
      name: 'the policy changes',
      other: bundleVersion(digest({ spec: 2 }), k, [
        ['a', '1'],
        ['b', '2'],
      ]),
    },
    {
      name: 'the keys change',
      other: bundleVersion(p, digest({ i: 1 }), [
        ['a', '1'],
        ['b', '2'],
      ]),
    },
  ])('moves when $name', ({ other }) => {
    expect(other).not.toBe(
      bundleVersion(p, k, [
        ['a', '1'],
        ['b', '2'],
      ]),
    );
  });
});
