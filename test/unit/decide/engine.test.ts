/**
 * The decision pipeline in process (engine-rig.ts): what each request is decided, and why.
 */
import { describe, expect, it, beforeEach } from 'vitest';
import type { RequestFacts } from '../../../src/decide/request.js';
import { jws, publicPem } from '../../support/tokens.js';
import {
  AUD,
  ISS,
  NOW,
  asForward,
  asReject,
  decide,
  facts,
  policyOf,
  revocation,
  rig,
  rsa,
  sha,
  stranger,
  token,
  useEngineRig,
  type Rig,
} from './engine-rig.js';

useEngineRig();

describe('Engine.decide', () => {
  let r: Rig;
  beforeEach(async () => {
    r = await rig(policyOf(), [revocation('leaked', [{ jti: 'j-revoked' }])]);
  });

  it('without a policy every request is unavailable (never fail open)', async () => {
    const empty = await rig();
    expect(await decide(empty, facts('/healthz'))).toEqual({
      kind: 'unavailable',
      description: 'no policy loaded',
    });
    expect((await decide(empty, facts('/orders/1', token(rsa)))).kind).toBe('unavailable');
  });

  it('a valid token is forwarded with its claim headers and its identity for the logs', async () => {
    const t = token(rsa);
    const d = asForward(await decide(r, facts('/orders/1', t)));
    expect(d).toMatchObject({
      decision: 'allow',
      reason: 'ok',
      rule: undefined,
      exp: NOW + 600,
      iat: NOW - 60,
    });
    expect(d.headers).toEqual([['x-auth-subject', 'user-1']]);
    expect(d.token).toEqual({ fingerprint: sha(t).slice(0, 12), sub: 'user-1', jti: 'j-1', iss: ISS });
  });

  it('an Allow rule forwards without looking at the Authorization header at all', async () => {
    const d = asForward(
      await decide(r, facts('/healthz', undefined, { authorization: ['Bearer not.a.jwt', 'Bearer x'] })),
    );
    expect(d).toMatchObject({
      decision: 'allow',
      reason: 'public',
      rule: 'health',
      headers: [],
      token: undefined,
    });
  });

  const refusals: {
    name: string;
    facts: () => RequestFacts;
    reason: string;
    stage: string;
    description?: RegExp;
  }[] = [
    { name: 'no Authorization header', facts: () => facts('/orders/1'), reason: 'missing', stage: 'token' },
    {
      name: 'two Authorization headers',
      facts: () =>
        facts('/orders/1', token(rsa), { authorization: [`Bearer ${token(rsa)}`, `Bearer ${token(rsa)}`] }),
      reason: 'malformed',
      stage: 'request',
      description: /more than one Authorization header/,
    },
    {
      name: 'a token in the query',
      facts: () => facts('/orders/1', undefined, { query: `access_token=${token(rsa)}` }),
      reason: 'malformed',
      stage: 'request',
    },
    {
      name: 'a Bearer value outside the b64token syntax',
      facts: () => facts('/orders/1', undefined, { authorization: ['Bearer a b'] }),
      reason: 'malformed',
      stage: 'request',
    },
    {
      name: 'an expired token',
      facts: () => facts('/orders/1', token(rsa, { iat: NOW - 900, exp: NOW - 60 })),
      reason: 'expired',
      stage: 'token',
    },
    {
      name: 'a token not yet valid',
      facts: () => facts('/orders/1', token(rsa, { nbf: NOW + 600 })),
      reason: 'not_yet_valid',
      stage: 'token',
    },
    {
      name: 'another audience',
      facts: () => facts('/orders/1', token(rsa, { aud: 'billing' })),
      reason: 'wrong_audience',
      stage: 'token',
    },
    {
      name: 'another issuer',
      facts: () => facts('/orders/1', token(rsa, { iss: 'https://evil.example/' })),
      reason: 'wrong_issuer',
      stage: 'token',
    },
    {
      name: 'a key the issuer does not have',
      facts: () => facts('/orders/1', token(stranger)),
      reason: 'unknown_key',
      stage: 'token',
    },
    {
      name: 'a stranger key claiming a known kid',
      facts: () => facts('/orders/1', token({ ...stranger, kid: 'rsa-1' })),
      reason: 'bad_signature',
      stage: 'token',
    },
    {
      name: 'HS256 keyed with the RSA public key PEM',
      facts: () => {
        const pem = Buffer.from(publicPem(rsa));
        return facts(
          '/orders/1',
          jws({ alg: 'HS256', kid: 'rsa-1' }, { iss: ISS, aud: AUD, exp: NOW + 60 }, pem),
        );
      },
      reason: 'alg_not_allowed',
      stage: 'token',
    },
    {
      name: 'a revoked jti',
      facts: () => facts('/orders/1', token(rsa, { jti: 'j-revoked' })),
      reason: 'revoked',
      stage: 'token',
    },
    {
      name: 'a Deny rule',
      facts: () => facts('/admin/users', token(rsa)),
      reason: 'denied_by_rule',
      stage: 'rule',
    },
    {
      name: 'a missing scope',
      facts: () => facts('/scoped/x', token(rsa, { role: 'admin' })),
      reason: 'insufficient_scope',
      stage: 'rule',
    },
    {
      name: 'a missing claim',
      facts: () => facts('/claims/x', token(rsa, { role: 'viewer' })),
      reason: 'missing_claim',
      stage: 'rule',
    },
  ];

  it.each(refusals)('$name is refused: $reason at stage $stage', async (c) => {
    const d = asReject(await decide(r, c.facts()));
    expect(d.reason).toBe(c.reason);
    expect(d.stage).toBe(c.stage);
    if (c.description) expect(d.description).toMatch(c.description);
  });

  it('a missing scope carries every scope the rule requires', async () => {
    const d = asReject(await decide(r, facts('/scoped/x', token(rsa, { role: 'admin' }))));
    expect(d.scope).toBe('orders:admin');
  });

  it('a missing claim on a rule that also requires scopes carries those scopes (for the challenge)', async () => {
    const d = asReject(
      await decide(r, facts('/scoped/x', token(rsa, { scope: 'orders:admin', role: 'viewer' }))),
    );
    expect(d.reason).toBe('missing_claim');
    expect(d.scope).toBe('orders:admin');
  });

  it('a token refused for its claims still carries its identity for the logs (never the token)', async () => {
    const t = token(rsa, { sub: 'user-9', jti: 'j-9', iat: NOW - 900, exp: NOW - 60 });
    const d = asReject(await decide(r, facts('/orders/1', t)));
    expect(d.token).toEqual({ fingerprint: sha(t).slice(0, 12), sub: 'user-9', jti: 'j-9', iss: ISS });
    expect(JSON.stringify(d)).not.toContain(t.split('.')[2]);
  });

  it('follows the injected clock: the same token is refused once now passes exp plus the skew', async () => {
    const t = token(rsa, { exp: NOW + 10 });
    expect((await decide(r, facts('/orders/1', t))).kind).toBe('forward');
    r.clock.ms = (NOW + 10 + 30) * 1000;
    expect(asReject(await decide(r, facts('/orders/1', t))).reason).toBe('expired');
  });
});
