import { describe, expect, it } from 'vitest';
import type { CompiledExpiry, KeySourceSpec } from '../../../src/policy/types.js';
import { claimFailures, type ClaimFailure } from '../../../src/token/claims.js';
import { AUDIENCE, ISSUER, NOW, claims, issuer, policy } from '../../support/tokens.js';

const source: KeySourceSpec = { kind: 'inline', keys: [] };
const issuers = [issuer(source, { audiences: [AUDIENCE, 'billing'] })];

interface Case {
  name: string;
  payload: Record<string, unknown>;
  expiry?: Partial<CompiledExpiry>;
  now?: number;
  /** undefined: every check passes. */
  reason?: string;
  description?: string;
}

const SKEW = 30;

/** The claim chain's first failure, as the request path runs it. */
const checkClaims = (...a: Parameters<typeof claimFailures>) => claimFailures(...a);

/** Every failure of the claim chain, as `tokenwarden check` runs it. */
function explainClaims(...[payload, p, now]: Parameters<typeof claimFailures>): ClaimFailure[] {
  const every: ClaimFailure[] = [];
  claimFailures(payload, p, now, every);
  return every;
}

const cases: Case[] = [
  { name: 'a token inside every limit passes', payload: claims() },
  { name: 'aud as an array containing an audience passes', payload: claims({ aud: ['other', 'billing'] }) },
  {
    name: 'no exp passes when the policy does not require one',
    payload: claims({ exp: undefined }),
    expiry: { requireExp: false },
  },
  {
    name: 'no iss is the wrong issuer',
    payload: claims({ iss: undefined }),
    reason: 'wrong_issuer',
    description: 'no iss claim',
  },
  {
    name: 'an unknown iss is the wrong issuer',
    payload: claims({ iss: 'https://evil.example/' }),
    reason: 'wrong_issuer',
    description: 'not one this policy trusts',
  },
  {
    name: 'iss matches exactly: no trailing-slash leniency',
    payload: claims({ iss: ISSUER.slice(0, -1) }),
    reason: 'wrong_issuer',
  },
  {
    name: 'a numeric iss is malformed',
    payload: claims({ iss: 7 }),
    reason: 'malformed',
    description: 'iss claim is not a string',
  },
  {
    name: 'no aud is the wrong audience',
    payload: claims({ aud: undefined }),
    reason: 'wrong_audience',
    description: 'no aud claim',
  },
  {
    name: 'another aud is the wrong audience',
    payload: claims({ aud: 'payments' }),
    reason: 'wrong_audience',
    description: 'not one of: orders-api, billing',
  },
  {
    name: 'an aud array without ours is the wrong audience',
    payload: claims({ aud: ['a', 'b'] }),
    reason: 'wrong_audience',
  },
  {
    name: 'non-string aud members never match',
    payload: claims({ aud: [{ toString: 'orders-api' }, 7] }),
    reason: 'wrong_audience',
  },
  {
    name: 'an object aud is malformed',
    payload: claims({ aud: { a: 1 } }),
    reason: 'malformed',
    description: 'aud claim',
  },
  {
    name: 'a missing exp is malformed when required',
    payload: claims({ exp: undefined }),
    reason: 'malformed',
    description: 'no exp claim',
  },
  {
    name: 'a string exp is malformed',
    payload: claims({ exp: String(NOW + 600) }),
    reason: 'malformed',
    description: 'exp claim is not a number',
  },
  {
    name: 'an exp in the past beyond the skew is expired',
    payload: claims({ exp: NOW - SKEW - 1 }),
    reason: 'expired',
    description: 'expired at 2027-01-15T07:59:29.000Z',
  },
  {
    name: 'exp + skew == now is expired (RFC 7519: on or after exp)',
    payload: claims({ exp: NOW - SKEW }),
    reason: 'expired',
  },
  { name: 'exp + skew one second ahead passes', payload: claims({ exp: NOW - SKEW + 1 }) },
  {
    name: 'exp == now with no skew is expired',
    payload: claims({ exp: NOW }),
    expiry: { clockSkewSeconds: 0 },
    reason: 'expired',
  },
  {
    name: 'an exp beyond Date range is described as a number',
    payload: claims({ exp: -1e20 }),
    reason: 'expired',
    description: '-100000000000000000000',
  },
  {
    name: 'a nbf beyond the skew is not yet valid',
    payload: claims({ nbf: NOW + SKEW + 1 }),
    reason: 'not_yet_valid',
    description: 'not valid before',
  },
  { name: 'a nbf within the skew passes', payload: claims({ nbf: NOW + SKEW }) },
  {
    name: 'a boolean nbf is malformed',
    payload: claims({ nbf: true }),
    reason: 'malformed',
    description: 'nbf claim',
  },
  {
    name: 'an iat in the future beyond the skew is not yet valid',
    payload: claims({ iat: NOW + SKEW + 1 }),
    reason: 'not_yet_valid',
    description: 'issued in the future',
  },
  {
    name: 'a string iat is malformed',
    payload: claims({ iat: 'yesterday' }),
    reason: 'malformed',
    description: 'iat claim',
  },
  {
    name: 'NaN-like iat (null) is malformed',
    payload: claims({ iat: null }),
    reason: 'malformed',
    description: 'iat claim',
  },
  {
    name: 'a token older than maxTokenAge is too old',
    payload: claims({ iat: NOW - 3601 }),
    expiry: { maxTokenAgeSeconds: 3600 },
    reason: 'too_old',
    description: 'more than 3600s ago',
  },
  {
    name: 'a token exactly maxTokenAge old passes',
    payload: claims({ iat: NOW - 3600 }),
    expiry: { maxTokenAgeSeconds: 3600 },
  },
  {
    name: 'maxTokenAge without iat is malformed',
    payload: claims({ iat: undefined }),
    expiry: { maxTokenAgeSeconds: 3600 },
    reason: 'malformed',
    description: 'no iat claim',
  },
  {
    name: 'a lifetime above the maximum is too long',
    payload: claims({ iat: NOW - 60, exp: NOW + 86400 }),
    expiry: { maxLifetimeSeconds: 86400 },
    reason: 'lifetime_too_long',
    description: 'lifetime is 86460s, above 86400s',
  },
  {
    name: 'a lifetime at the maximum passes',
    payload: claims({ iat: NOW, exp: NOW + 86400 }),
    expiry: { maxLifetimeSeconds: 86400 },
  },
  {
    name: 'maxLifetime without iat is malformed',
    payload: claims({ iat: undefined }),
    expiry: { maxLifetimeSeconds: 86400 },
    reason: 'malformed',
    description: 'lacks exp or iat',
  },
  {
    name: 'maxLifetime without exp is malformed even if exp is optional',
    payload: claims({ exp: undefined }),
    expiry: { requireExp: false, maxLifetimeSeconds: 86400 },
    reason: 'malformed',
    description: 'lacks exp or iat',
  },
  // ---- one identity: sub / jti are strings or nothing (RFC 7519 StringOrURI) ----
  {
    name: 'an array sub is malformed',
    payload: claims({ sub: ['user-42'] }),
    reason: 'malformed',
    description: 'sub claim is not a string',
  },
  {
    name: 'a numeric sub is malformed',
    payload: claims({ sub: 42 }),
    reason: 'malformed',
    description: 'sub claim is not a string',
  },
  { name: 'an object sub is malformed', payload: claims({ sub: { id: 'user-42' } }), reason: 'malformed' },
  {
    name: 'a numeric jti is malformed',
    payload: claims({ jti: 7 }),
    reason: 'malformed',
    description: 'jti claim is not a string',
  },
  { name: 'a null sub is malformed', payload: claims({ sub: null }), reason: 'malformed' },
  { name: 'no sub and no jti pass', payload: claims({ sub: undefined, jti: undefined }) },
  // ---- the hard bound on exp, which no policy setting lifts ----
  {
    name: 'exp of 1e300 is refused even without a lifetime cap',
    payload: claims({ exp: 1e300 }),
    reason: 'lifetime_too_long',
    description: '10 years',
  },
  {
    name: 'exp one second past 10 years from now is refused',
    payload: claims({ exp: NOW + 10 * 365 * 86400 + 1 }),
    reason: 'lifetime_too_long',
  },
  {
    name: 'exp exactly 10 years from now passes',
    payload: claims({ exp: NOW + 10 * 365 * 86400 }),
  },
  {
    name: 'the 10-year bound holds with exp optional',
    payload: claims({ exp: 1e12 }),
    expiry: { requireExp: false },
    reason: 'lifetime_too_long',
  },
];

describe('checkClaims', () => {
  it.each(cases)('$name', ({ payload, expiry, now, reason, description }) => {
    const got = checkClaims(payload, policy(issuers, expiry), now ?? NOW);
    expect(got?.reason).toBe(reason);
    if (description !== undefined) expect(got?.description).toContain(description);
    // explainClaims agrees: its first failure is checkClaims' failure.
    expect(explainClaims(payload, policy(issuers, expiry), now ?? NOW)[0]).toEqual(got);
  });
});

describe('explainClaims', () => {
  it('reports every failed claim, in pipeline order', () => {
    const payload = { iss: ISSUER, aud: 'payments', iat: NOW - 100_000, exp: NOW - 3600, nbf: NOW + 3600 };
    const got = explainClaims(
      payload,
      policy(issuers, { maxTokenAgeSeconds: 600, maxLifetimeSeconds: 60 }),
      NOW,
    );
    expect(got.map((f) => f.reason)).toEqual([
      'wrong_audience',
      'expired',
      'not_yet_valid',
      'too_old',
      'lifetime_too_long',
    ]);
  });

  it('still checks time claims when the issuer is unknown (but not audiences, which are per issuer)', () => {
    const got = explainClaims(
      { iss: 'https://evil.example/', aud: 'x', exp: NOW - 3600 },
      policy(issuers),
      NOW,
    );
    expect(got.map((f) => f.reason)).toEqual(['wrong_issuer', 'expired']);
  });

  it('reports a malformed claim once, not again in the checks that use it', () => {
    const got = explainClaims(
      claims({ iat: 'x' }),
      policy(issuers, { maxTokenAgeSeconds: 60, maxLifetimeSeconds: 60 }),
      NOW,
    );
    expect(got).toEqual([{ reason: 'malformed', description: 'the iat claim is not a number' }]);
  });

  it('is empty for a good token', () => {
    expect(explainClaims(claims(), policy(issuers), NOW)).toEqual([]);
  });
});
