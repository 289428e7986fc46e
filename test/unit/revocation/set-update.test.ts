/**
 * RevocationSet.update (the stream's incremental path) against RevocationSet.build (the
 * reference): after any sequence of upserts and removals, both refuse exactly the same tokens.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { RevocationEntry, TokenRevocation } from '../../../src/policy/types.js';
import { RevocationSet, type TokenIdentity } from '../../../src/revocation/set.js';

const POLICY = { name: 'orders-api', namespace: 'shop' };
const NOW = Date.UTC(2026, 11, 2) / 1000;
const ISS = 'https://auth.example.com/';
const SHA = (c: string): string => c.repeat(64);

const entry: fc.Arbitrary<RevocationEntry> = fc.oneof(
  fc.constantFrom('j1', 'j2', 'j3').map((jti) => ({ jti })),
  fc.constantFrom('a', 'b').map((c) => ({ tokenSha256: SHA(c) })),
  fc.constantFrom('u1', 'u2').map((subject) => ({ subject })),
  fc.constantFrom('u1', 'u2').map((subject) => ({ subject, issuedBefore: '2026-12-01T00:00:00Z' })),
  fc.constantFrom('s1', 's2').map((sid) => ({ sid })),
  fc.constantFrom('s1', 's2').map((sid) => ({ sid, issuer: ISS })),
);
const revocation: fc.Arbitrary<TokenRevocation> = fc
  .record({
    name: fc.constantFrom('r1', 'r2', 'r3', 'r4'),
    tokens: fc.array(entry, { minLength: 1, maxLength: 3 }),
    policyName: fc.constantFrom(undefined, 'orders-api', 'other'),
    expired: fc.boolean(),
  })
  .map(({ name, tokens, policyName, expired }) => ({
    apiVersion: 'tokenwarden.dev/v1alpha1',
    kind: 'TokenRevocation',
    metadata: { name, namespace: 'shop' },
    spec: {
      tokens,
      ...(policyName ? { policyName } : {}),
      ...(expired ? { expiresAt: '2026-01-01T00:00:00Z' } : {}),
    },
  }));
type Op = { upsert: TokenRevocation[]; remove: string[] };
const op: fc.Arbitrary<Op> = fc.record({
  upsert: fc.array(revocation, { maxLength: 2 }),
  remove: fc.array(fc.constantFrom('r1', 'r2', 'r3', 'r4'), { maxLength: 2 }),
});

const PROBES: TokenIdentity[] = [];
for (const jti of [undefined, 'j1', 'j2', 'j3'])
  for (const sha of ['a', 'b', 'c'])
    for (const sub of [undefined, 'u1', 'u2'])
      for (const sid of [undefined, 's1', 's2'])
        for (const iat of [undefined, Date.UTC(2026, 10, 1) / 1000, Date.UTC(2026, 11, 2) / 1000])
          PROBES.push({ jti, tokenSha256: SHA(sha), sub, sid, iss: ISS, iat });

const verdicts = (s: RevocationSet): boolean[] => PROBES.map((p) => s.match(p) !== undefined);

describe('RevocationSet.update', () => {
  it('refuses exactly what a full build of the same documents refuses, after any deltas', () => {
    fc.assert(
      fc.property(fc.array(revocation, { maxLength: 4 }), fc.array(op, { maxLength: 6 }), (initial, ops) => {
        const docs = new Map<string, TokenRevocation>();
        for (const r of initial) docs.set(r.metadata.name, r);
        let set = RevocationSet.build(docs.values(), POLICY, NOW);
        for (const o of ops) {
          const removed = o.remove.filter((n) => !o.upsert.some((u) => u.metadata.name === n));
          for (const n of removed) docs.delete(n);
          // Within one delta an upserted name appears once (the last one wins).
          const upserts = [...new Map(o.upsert.map((u) => [u.metadata.name, u])).values()];
          for (const u of upserts) docs.set(u.metadata.name, u);
          const before = verdicts(set);
          const next = set.update(removed, upserts, () => docs.values(), POLICY, NOW);
          expect(verdicts(set)).toEqual(before); // the old set is untouched (requests in flight)
          set = next;
          const reference = RevocationSet.build(docs.values(), POLICY, NOW);
          expect(verdicts(set)).toEqual(verdicts(reference));
          expect(set.size).toBe(reference.size);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('keeps a jti revoked by a second revocation when the first is removed', () => {
    const a: TokenRevocation = {
      apiVersion: 'tokenwarden.dev/v1alpha1',
      kind: 'TokenRevocation',
      metadata: { name: 'a', namespace: 'shop' },
      spec: { tokens: [{ jti: 'j1' }] },
    };
    const b = { ...a, metadata: { name: 'b', namespace: 'shop' } };
    const set = RevocationSet.build([a, b], POLICY, NOW).update(['a'], [], () => [b], POLICY, NOW);
    expect(set.match({ jti: 'j1', tokenSha256: SHA('c'), iss: ISS })).toBe('b');
  });
});
