import { describe, expect, it } from 'vitest';
import type { RevocationEntry, TokenRevocation } from '../../../src/policy/types.js';
import { RevocationSet, type TokenIdentity } from '../../../src/revocation/set.js';

const SHA_A = 'a'.repeat(64);
const SHA_B = 'b'.repeat(64);
const ISS = 'https://auth.example.com/';
const POLICY = { name: 'orders-api', namespace: 'shop' };
/** 2026-11-29T10:00:00Z */
const CUTOFF = Date.UTC(2026, 10, 29, 10) / 1000;
const NOW = CUTOFF + 3600;

function revocation(
  name: string,
  tokens: RevocationEntry[],
  opts: { namespace?: string; policyName?: string; expiresAt?: string } = {},
): TokenRevocation {
  const { namespace = 'shop', ...spec } = opts;
  return {
    apiVersion: 'tokenwarden.dev/v1alpha1',
    kind: 'TokenRevocation',
    metadata: { name, namespace },
    spec: { ...spec, tokens },
  };
}

const token = (t: Partial<TokenIdentity>): TokenIdentity => ({ tokenSha256: SHA_B, iss: ISS, ...t });

const SET = RevocationSet.build(
  [
    revocation('by-jti', [{ jti: 'j1' }, { jti: 'j2' }]),
    revocation('by-hash', [{ tokenSha256: SHA_A }]),
    revocation('all-of-user', [{ subject: 'user-1' }]),
    revocation('user-at-issuer', [{ subject: 'user-2', issuer: ISS }]),
    revocation('user-before', [{ subject: 'user-3', issuedBefore: '2026-11-29T10:00:00Z' }]),
    revocation('user-at-issuer-before', [
      { subject: 'user-4', issuer: ISS, issuedBefore: '2026-11-29T10:00:00Z' },
    ]),
    revocation('session', [{ sid: 'sid-1', issuer: ISS }]),
    revocation('session-any-issuer', [{ sid: 'sid-2' }]),
  ],
  POLICY,
  NOW,
);

describe('RevocationSet.match', () => {
  it.each<{ name: string; t: Partial<TokenIdentity>; want: string | undefined }>([
    { name: 'a revoked jti', t: { jti: 'j2' }, want: 'by-jti' },
    { name: 'a revoked signed-part hash', t: { tokenSha256: SHA_A }, want: 'by-hash' },
    { name: 'every token of a subject', t: { sub: 'user-1', iss: 'https://other/' }, want: 'all-of-user' },
    { name: 'a subject at its issuer', t: { sub: 'user-2' }, want: 'user-at-issuer' },
    {
      name: 'not the same subject at another issuer',
      t: { sub: 'user-2', iss: 'https://other/' },
      want: undefined,
    },
    {
      name: 'a subject token issued before the cut-off',
      t: { sub: 'user-3', iat: CUTOFF - 1 },
      want: 'user-before',
    },
    { name: 'not one issued at the cut-off', t: { sub: 'user-3', iat: CUTOFF }, want: undefined },
    { name: 'not one issued after the cut-off', t: { sub: 'user-3', iat: CUTOFF + 60 }, want: undefined },
    { name: 'a subject token without iat (fail closed)', t: { sub: 'user-3' }, want: 'user-before' },
    {
      name: 'issuer and cut-off together',
      t: { sub: 'user-4', iat: CUTOFF - 1 },
      want: 'user-at-issuer-before',
    },
    { name: 'not with the issuer alone matching', t: { sub: 'user-4', iat: CUTOFF + 1 }, want: undefined },
    { name: 'not with the cut-off alone matching', t: { sub: 'user-4', iss: 'x', iat: 1 }, want: undefined },
    { name: 'nothing for a clean token', t: { jti: 'j3', sub: 'user-9', iat: 1 }, want: undefined },
    { name: 'nothing for a token without jti or sub', t: {}, want: undefined },
    { name: 'every token of a revoked session', t: { sid: 'sid-1', sub: 'user-9' }, want: 'session' },
    {
      name: 'not the same sid at another issuer',
      t: { sid: 'sid-1', iss: 'https://other/' },
      want: undefined,
    },
    {
      name: 'a sid entry without issuer, at any issuer',
      t: { sid: 'sid-2', iss: 'x' },
      want: 'session-any-issuer',
    },
    { name: 'not a token of another session', t: { sid: 'sid-3' }, want: undefined },
    { name: 'not a token without sid (a sid entry needs the claim)', t: { sub: 'sid-1' }, want: undefined },
    {
      name: 'a subject entry still matches a token with a clean sid',
      t: { sub: 'user-1', sid: 'x' },
      want: 'all-of-user',
    },
  ])('$name', ({ t, want }) => {
    expect(SET.match(token(t))).toBe(want);
  });

  it('counts entries, not revocations', () => expect(SET.size).toBe(9));
});

describe('RevocationSet.build keeps', () => {
  it.each<{ name: string; r: TokenRevocation; kept: boolean }>([
    {
      name: 'a revocation for every policy of the namespace',
      r: revocation('r', [{ jti: 'x' }]),
      kept: true,
    },
    {
      name: 'a revocation naming the policy',
      r: revocation('r', [{ jti: 'x' }], { policyName: 'orders-api' }),
      kept: true,
    },
    {
      name: 'not one naming another policy',
      r: revocation('r', [{ jti: 'x' }], { policyName: 'billing' }),
      kept: false,
    },
    {
      name: 'not one of another namespace',
      r: revocation('r', [{ jti: 'x' }], { namespace: 'other' }),
      kept: false,
    },
    {
      name: 'one expiring later',
      r: revocation('r', [{ jti: 'x' }], { expiresAt: new Date((NOW + 1) * 1000).toISOString() }),
      kept: true,
    },
    {
      name: 'not one past its expiresAt',
      r: revocation('r', [{ jti: 'x' }], { expiresAt: new Date(NOW * 1000).toISOString() }),
      kept: false,
    },
  ])('$name', ({ r, kept }) => {
    const set = RevocationSet.build([r], POLICY, NOW);
    expect(set.match(token({ jti: 'x' }))).toBe(kept ? 'r' : undefined);
    expect(set.size).toBe(kept ? 1 : 0);
  });

  it("applies a revocation without a namespace (a standalone file's) to the policy, whatever its namespace", () => {
    const r = revocation('r', [{ jti: 'x' }]);
    delete r.metadata.namespace;
    expect(RevocationSet.build([r], POLICY, NOW).match(token({ jti: 'x' }))).toBe('r');
    expect(
      RevocationSet.build([r], { name: 'p', namespace: 'default' }, NOW).match(token({ jti: 'x' })),
    ).toBe('r');
  });

  it('reports the earliest expiry of what it kept, to rebuild then', () => {
    const set = RevocationSet.build(
      [
        revocation('late', [{ jti: 'a' }], { expiresAt: '2027-01-01T00:00:00Z' }),
        revocation('early', [{ jti: 'b' }], { expiresAt: '2026-12-01T00:00:00Z' }),
        revocation('gone', [{ jti: 'c' }], { expiresAt: '2026-01-01T00:00:00Z' }),
        revocation('forever', [{ jti: 'd' }]),
      ],
      POLICY,
      NOW,
    );
    expect(set.nextExpirySeconds).toBe(Date.UTC(2026, 11, 1) / 1000);
    expect(
      RevocationSet.build([revocation('forever', [{ jti: 'd' }])], POLICY, NOW).nextExpirySeconds,
    ).toBeUndefined();
  });

  it('starts empty', () => {
    expect(RevocationSet.empty().size).toBe(0);
    expect(RevocationSet.empty().match(token({ jti: 'x', sub: 'y' }))).toBeUndefined();
  });
});
