/**
 * `tokenwarden check`'s engine: the same decision as the proxy, but EVERY failed check listed.
 * Real compiled policy, real KeyStore with inline keys, real signatures, `now` passed in.
 */
import { createHash, type KeyObject } from 'node:crypto';
import type { JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyStore } from '../../../src/keys/store.js';
import { claimsWithout, jws, rsaKey, type TestKey } from '../../support/tokens.js';
import { compilePolicy } from '../../../src/policy/compile.js';
import type { TokenPolicy, TokenPolicySpec, TokenRevocation } from '../../../src/policy/types.js';
import { explainRequest, type Explained } from '../../../src/decide/explain.js';
import { EnforcementState } from '../../../src/decide/state.js';
import { TokenVerifier } from '../../../src/token/verify.js';

const NOW = 1_800_000_000;
const ISS = 'https://auth.example.com/';
const AUD = 'orders-api';

let signer: TestKey;
let stranger: KeyObject;
let jwk: JWK;
const stores: KeyStore[] = [];

beforeAll(() => {
  signer = rsaKey('rsa-1', 'RS256');
  jwk = signer.jwk;
  stranger = rsaKey('stranger').privateKey;
});

afterAll(() => {
  for (const s of stores) s.close();
});

/** A token from the shared factory (test/support/tokens.ts); `undefined` removes a claim. */
function token(extra: Record<string, unknown> = {}, key: KeyObject = signer.privateKey): string {
  const payload = claimsWithout({ sub: 'user-1', ...extra });
  return jws({ alg: 'RS256', kid: 'rsa-1' }, payload, key);
}

function policyOf(spec: Partial<TokenPolicySpec> = {}): TokenPolicy {
  return {
    apiVersion: 'tokenwarden.dev/v1alpha1',
    kind: 'TokenPolicy',
    metadata: { name: 'orders-api' },
    spec: {
      issuers: [{ issuer: ISS, audiences: [AUD], jwks: { keys: [jwk] } }],
      rules: [
        { name: 'health', paths: ['/healthz'], methods: ['GET'], action: 'Allow' },
        { name: 'admin', paths: ['/admin/*'], action: 'Deny' },
        {
          name: 'scoped',
          paths: ['/scoped/*'],
          action: 'Authenticate',
          requiredScopes: ['orders:admin', 'orders:write'],
          requiredClaims: { role: 'admin' },
        },
      ],
      ...spec,
    },
  };
}

async function explain(
  input: { token: string; path?: string; method?: string },
  opts: { policy?: TokenPolicy; revocations?: TokenRevocation[]; now?: number } = {},
): Promise<Explained> {
  const active = new EnforcementState().apply(
    compilePolicy(opts.policy ?? policyOf()),
    opts.revocations ?? [],
    NOW * 1000,
  );
  const keys = new KeyStore();
  stores.push(keys);
  await keys.sync(active.policy.issuers.values());
  return explainRequest(
    active,
    new TokenVerifier(keys),
    { path: '/orders/1', method: 'GET', ...input },
    opts.now ?? NOW,
  );
}

const reasons = (e: Explained): string[] => e.reasons.map((r) => r.reason);

describe('explainRequest', () => {
  it('a good token is allowed with no reasons, and its identity is shown', async () => {
    const t = token();
    const e = await explain({ token: t });
    expect(e.decision).toBe('allow');
    expect(e.reasons).toEqual([]);
    expect(e.token).toMatchObject({
      fingerprint: createHash('sha256')
        .update(t.slice(0, t.lastIndexOf('.')))
        .digest('hex')
        .slice(0, 12),
      iss: ISS,
      sub: 'user-1',
      jti: 'j-1',
      exp: NOW + 600,
    });
  });

  it('lists every failed claim, not only the first: expired and wrong audience', async () => {
    const e = await explain({ token: token({ aud: 'billing', iat: NOW - 7200, exp: NOW - 3600 }) });
    expect(e.decision).toBe('deny');
    expect(reasons(e)).toEqual(['wrong_audience', 'expired']);
  });

  it('lists a bad signature together with the claim failures', async () => {
    const e = await explain({ token: token({ exp: NOW - 3600, iat: NOW - 7200 }, stranger) });
    expect(reasons(e)).toEqual(['bad_signature', 'expired']);
  });

  it('lists revocation, and every missing scope and claim of the matched rule', async () => {
    const e = await explain(
      { token: token({ scope: 'orders:read' }), path: '/scoped/x' },
      {
        revocations: [
          {
            apiVersion: 'tokenwarden.dev/v1alpha1',
            kind: 'TokenRevocation',
            metadata: { name: 'r1' },
            spec: { tokens: [{ subject: 'user-1' }] },
          },
        ],
      },
    );
    expect(reasons(e)).toEqual(['revoked', 'insufficient_scope', 'insufficient_scope', 'missing_claim']);
    expect(e.reasons[0]?.description).toBe('revoked by TokenRevocation r1');
    expect(e.rule).toEqual({ name: 'scoped', action: 'Authenticate' });
  });

  it('a Deny rule is listed along with what is wrong with the token', async () => {
    const e = await explain({ token: token({ exp: NOW - 3600, iat: NOW - 7200 }), path: '/admin/users' });
    expect(reasons(e)).toEqual(['denied_by_rule', 'expired']);
  });

  it('an Allow rule allows whatever the token (the proxy never looks at it there)', async () => {
    const e = await explain({
      token: token({ exp: NOW - 3600, iat: NOW - 7200 }),
      path: '/healthz',
      method: 'get',
    });
    expect(e).toMatchObject({
      decision: 'allow',
      reasons: [],
      rule: { name: 'health', action: 'Allow' },
      token: undefined,
    });
  });

  it('matches the normalised path, as the proxy does', async () => {
    const e = await explain({ token: token(), path: '/healthz/../admin/x' });
    expect(e.path).toBe('/admin/x');
    expect(reasons(e)).toEqual(['denied_by_rule']);
  });

  it('a path that cannot be normalised is a malformed reason', async () => {
    const e = await explain({ token: token(), path: '/a%2Fb' });
    expect(e.decision).toBe('deny');
    expect(e.reasons[0]).toEqual({
      reason: 'malformed',
      description: 'path: encoded slash or backslash in path',
    });
  });

  it('a token outside the b64token syntax is malformed', async () => {
    const e = await explain({ token: 'not a token' });
    expect(reasons(e)).toEqual(['malformed']);
  });

  it('a token without jti under maxUses is malformed; a check never counts as a use', async () => {
    const policy = policyOf({ reuse: { maxUses: 1 } });
    expect(reasons(await explain({ token: token({ jti: undefined }) }, { policy }))).toEqual(['malformed']);
    const t = token({ jti: 'j-once' });
    expect((await explain({ token: t }, { policy })).decision).toBe('allow');
    expect((await explain({ token: t }, { policy })).decision).toBe('allow');
  });

  it('reports the policy mode, so Audit users know a deny would be forwarded', async () => {
    const e = await explain({ token: token({ aud: 'billing' }) }, { policy: policyOf({ mode: 'Audit' }) });
    expect(e).toMatchObject({ decision: 'deny', mode: 'Audit' });
  });

  it('uses the time it is given', async () => {
    const t = token({ exp: NOW + 60 });
    expect((await explain({ token: t }, { now: NOW })).decision).toBe('allow');
    expect(reasons(await explain({ token: t }, { now: NOW + 3600 }))).toEqual(['expired']);
  });
});
