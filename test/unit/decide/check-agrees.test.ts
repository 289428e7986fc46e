/**
 * `tokenwarden check` and the proxy cannot disagree: for generated tokens and requests, the
 * first reason `check` lists is the reason the engine decides with (and `check` allows exactly
 * when the engine forwards). Requests are raw targets as a client sends them (percent-escapes,
 * non-ASCII, case, `;` parameters, `#`, queries) under generated path options, so the start of
 * the decision (normalise, fold case, match the rule, extract the token) is covered too. Real
 * keys, real signatures, a real compiled policy, `now` passed in.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../../src/decide/engine.js';
import { explainRequest } from '../../../src/decide/explain.js';
import { EnforcementState } from '../../../src/decide/state.js';
import { KeyStore } from '../../../src/keys/store.js';
import { compilePolicy } from '../../../src/policy/compile.js';
import type { PathsSpec, TokenPolicy, TokenRevocation } from '../../../src/policy/types.js';
import { MemoryReuseStore } from '../../../src/revocation/reuse.js';
import { VerifiedTokenCache } from '../../../src/token/cache.js';
import { TokenVerifier } from '../../../src/token/verify.js';
import {
  AUDIENCE,
  ISSUER,
  KEYGEN_TIMEOUT_MS,
  NOW,
  ecKey,
  jws,
  malleate,
  publicPem,
  rsaKey,
  type TestKey,
} from '../../support/tokens.js';

let rsa: TestKey;
let ec: TestKey;
let stranger: TestKey;
const stores: KeyStore[] = [];

beforeAll(() => {
  rsa = rsaKey('rsa-1', 'RS256');
  ec = ecKey('ec-1', 'ES256');
  stranger = rsaKey('stranger', 'RS256');
}, KEYGEN_TIMEOUT_MS);

afterAll(() => {
  for (const s of stores) s.close();
});

function policyOf(maxUses: number, paths: PathsSpec): TokenPolicy {
  return {
    apiVersion: 'tokenwarden.dev/v1alpha1',
    kind: 'TokenPolicy',
    metadata: { name: 'orders-api', namespace: 'shop' },
    spec: {
      issuers: [{ issuer: ISSUER, audiences: [AUDIENCE], jwks: { keys: [rsa.jwk, ec.jwk] } }],
      expiry: { maxTokenAgeSeconds: 3600, maxLifetimeSeconds: 7200 },
      reuse: { maxUses },
      paths,
      rules: [
        { name: 'health', paths: ['/healthz'], action: 'Allow' },
        { name: 'admin', paths: ['/admin/*'], action: 'Deny' },
        {
          name: 'scoped',
          paths: ['/scoped/*'],
          action: 'Authenticate',
          requiredScopes: ['orders:admin', 'orders:write'],
          requiredClaims: { role: 'admin' },
        },
      ],
    },
  };
}

const REVOKED: TokenRevocation = {
  apiVersion: 'tokenwarden.dev/v1alpha1',
  kind: 'TokenRevocation',
  metadata: { name: 'leak', namespace: 'shop' },
  spec: { tokens: [{ subject: 'revoked-user' }] },
};

/** A claim's value, or `undefined` to leave it out. */
const claim = <T>(...values: T[]): fc.Arbitrary<T | undefined> =>
  fc.constantFrom<T | undefined>(...values, undefined);

const claimsArb = fc.record({
  iss: claim<unknown>(ISSUER, 'https://other.example/', 42),
  aud: claim<unknown>(AUDIENCE, 'other-api', [AUDIENCE, 'x'], { no: 1 }),
  sub: claim('user-1', 'revoked-user'),
  jti: claim('j-1', 'j-2'),
  iat: claim<unknown>(NOW - 60, NOW - 7200, NOW + 600, 'yesterday'),
  exp: claim<unknown>(NOW + 600, NOW - 600, NOW + 100_000, 'never'),
  nbf: claim(NOW - 60, NOW + 600),
  scope: claim('orders:admin orders:write', 'orders:admin', 'orders:read'),
  role: claim('admin', 'user'),
});

type Signing = 'rsa' | 'ec' | 'stranger' | 'tampered' | 'malleated' | 'none' | 'hs256-confusion' | 'garbage';

const signingArb = fc.constantFrom<Signing>(
  'rsa',
  'ec',
  'stranger',
  'tampered',
  'malleated',
  'none',
  'hs256-confusion',
  'garbage',
);

/**
 * One path segment as a client might spell it: rule names in several cases, escaped letters
 * (`%61`, `%41`), escaped and raw non-ASCII (`%C3%A4`, `ä`), NFKC-unstable and overlong escapes,
 * dot segments plain and escaped, encoded separators, `;` parameters raw and escaped, `%25`.
 */
const segmentArb = fc.constantFrom(
  'admin',
  'Admin',
  'ADMIN',
  'healthz',
  'HEALTHZ',
  'scoped',
  'Scoped',
  'orders',
  'x',
  '1',
  '',
  '%61dmin',
  '%41DMIN',
  '%C3%A4dmin',
  '%c3%a4',
  'caf%C3%A9',
  'ä',
  '%EF%BC%8E',
  '%C0%AE',
  '.',
  '..',
  '%2e%2e',
  '%2F',
  '%5C',
  'a;b=1',
  ';jsessionid=1',
  '..;',
  'x%3By',
  '%25',
  'x#frag',
  'x.',
  'x%20',
);

/** A raw request target: `/` + segments, and a query (plain, with `#`, or carrying a token). */
const targetArb = fc
  .tuple(
    fc.array(segmentArb, { minLength: 1, maxLength: 4 }),
    fc.constantFrom('', '?a=1', '?a=%C3%A4', '?a#b', '?access_token=abc', '?'),
  )
  .map(([segments, query]) => `/${segments.join('/')}${query}`);

const pathsArb = fc.record({
  caseInsensitive: fc.boolean(),
  matrixParameters: fc.constantFrom<'Reject' | 'Strip'>('Reject', 'Strip'),
});

function mint(claims: Record<string, unknown>, signing: Signing): string {
  const payload = Object.fromEntries(Object.entries(claims).filter(([, v]) => v !== undefined));
  switch (signing) {
    case 'rsa':
      return jws({ alg: 'RS256', kid: 'rsa-1' }, payload, rsa.privateKey);
    case 'ec':
      return jws({ alg: 'ES256', kid: 'ec-1' }, payload, ec.privateKey);
    case 'stranger':
      return jws({ alg: 'RS256', kid: 'stranger' }, payload, stranger.privateKey);
    case 'tampered': {
      const [h, , sig] = jws({ alg: 'RS256', kid: 'rsa-1' }, payload, rsa.privateKey).split('.');
      const other = Buffer.from(JSON.stringify({ ...payload, sub: 'someone-else' })).toString('base64url');
      return `${h}.${other}.${sig}`;
    }
    case 'malleated':
      return malleate(jws({ alg: 'ES256', kid: 'ec-1' }, payload, ec.privateKey));
    case 'none': {
      const h = Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url');
      return `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.`;
    }
    case 'hs256-confusion':
      return jws({ alg: 'HS256', kid: 'rsa-1' }, payload, Buffer.from(publicPem(rsa)));
    case 'garbage':
      return 'not.a.jwt';
  }
}

describe('check agrees with the proxy', () => {
  it('for generated tokens and requests, check’s first reason is the engine’s decision reason', async () => {
    await fc.assert(
      fc.asyncProperty(
        claimsArb,
        signingArb,
        fc.oneof(fc.constantFrom('/healthz', '/admin/x', '/scoped/x', '/orders/1'), targetArb),
        fc.constantFrom('GET', 'POST'),
        fc.constantFrom(0, 3),
        fc.boolean(),
        pathsArb,
        async (claims, signing, path, method, maxUses, revoked, paths) => {
          const keys = new KeyStore();
          stores.push(keys);
          const state = new EnforcementState();
          const active = state.apply(
            compilePolicy(policyOf(maxUses, paths)),
            revoked ? [REVOKED] : [],
            NOW * 1000,
          );
          await keys.sync(active.policy.issuers.values());
          const verifier = new TokenVerifier(keys);
          const engine = new Engine({
            state,
            verifier,
            cache: new VerifiedTokenCache(),
            reuse: new MemoryReuseStore(),
            keys,
            now: () => NOW * 1000,
          });
          const token = mint(claims, signing);
          const decided = await engine.decide({
            method,
            target: path,
            authorization: [`Bearer ${token}`],
            client: '127.0.0.1',
          });
          const checked = await explainRequest(active, verifier, { token, path, method }, NOW);
          keys.close();
          if (decided.kind === 'forward') {
            expect(checked.reasons).toEqual([]);
            expect(checked.decision).toBe('allow');
          } else {
            expect(decided.kind).toBe('reject');
            expect(checked.decision).toBe('deny');
            expect(checked.reasons[0]?.reason).toBe(decided.kind === 'reject' ? decided.reason : undefined);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('check agrees with the proxy at the door', () => {
  it('an escaped non-ASCII path under caseInsensitive is malformed for both', async () => {
    const keys = new KeyStore();
    stores.push(keys);
    const state = new EnforcementState();
    const paths = { caseInsensitive: true, matrixParameters: 'Reject' } as const;
    const active = state.apply(compilePolicy(policyOf(0, paths)), [], NOW * 1000);
    await keys.sync(active.policy.issuers.values());
    const verifier = new TokenVerifier(keys);
    const engine = new Engine({
      state,
      verifier,
      cache: new VerifiedTokenCache(),
      reuse: new MemoryReuseStore(),
      keys,
      now: () => NOW * 1000,
    });
    const token = mint({ iss: ISSUER, aud: AUDIENCE, iat: NOW - 60, exp: NOW + 600 }, 'rsa');
    const path = '/%C3%A4dmin';
    const decided = engine.decide({
      method: 'GET',
      target: path,
      authorization: [`Bearer ${token}`],
      client: '',
    });
    const checked = await explainRequest(active, verifier, { token, path, method: 'GET' }, NOW);
    expect(decided).toMatchObject({ kind: 'reject', reason: 'malformed', stage: 'request' });
    expect(checked.decision).toBe('deny');
    expect(checked.reasons[0]?.reason).toBe('malformed');
  });
});
