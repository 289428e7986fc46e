/**
 * The engine tests' rig: real keys from the shared token factory (test/support/tokens.ts), a
 * real compiled policy, a real KeyStore (inline keys), the clock passed in as `now`.
 */
import { createHash } from 'node:crypto';
import type { JWK } from 'jose';
import { afterAll, beforeAll } from 'vitest';
import type { Decision, Forward, Reject } from '../../../src/decide/decision.js';
import { Engine, type EngineDeps } from '../../../src/decide/engine.js';
import type { RequestFacts } from '../../../src/decide/request.js';
import { EnforcementState } from '../../../src/decide/state.js';
import { KeyStore } from '../../../src/keys/store.js';
import type { KeyResolver } from '../../../src/keys/types.js';
import { compilePolicy } from '../../../src/policy/compile.js';
import type { TokenPolicy, TokenPolicySpec, TokenRevocation } from '../../../src/policy/types.js';
import { MemoryReuseStore } from '../../../src/revocation/reuse.js';
import { VerifiedTokenCache } from '../../../src/token/cache.js';
import { TokenVerifier } from '../../../src/token/verify.js';
import { claimsWithout, ecKey, jws, rsaKey, type TestKey } from '../../support/tokens.js';

/** 2027-01-15T08:00:00Z, far from the real clock: only the injected `now` can make tokens valid. */
export const NOW = 1_800_000_000;
export const ISS = 'https://auth.example.com/';
export const AUD = 'orders-api';

export interface Key extends TestKey {
  alg: 'RS256' | 'ES256';
}

export function key(kid: string, alg: 'RS256' | 'ES256'): Key {
  const k = alg === 'RS256' ? rsaKey(kid, alg) : ecKey(kid, alg);
  return { ...k, alg, jwk: { ...k.jwk, use: 'sig' } };
}

/** A token from the shared factory (test/support/tokens.ts); `undefined` removes a claim. */
export function token(
  k: Key,
  extra: Record<string, unknown> = {},
  header: Record<string, unknown> = {},
): string {
  const payload = claimsWithout({ sub: 'user-1', ...extra });
  return jws({ alg: k.alg, kid: k.kid, typ: 'JWT', ...header }, payload, k.privateKey);
}

export const sha = (t: string): string =>
  createHash('sha256')
    .update(t.slice(0, t.lastIndexOf('.')))
    .digest('hex');

export let rsa: Key;
export let ec: Key;
export let stranger: Key;

/** Registers the key generation and KeyStore clean-up hooks of the calling test file. */

export function policyOf(spec: Partial<TokenPolicySpec> = {}, jwks: JWK[] = [rsa.jwk, ec.jwk]): TokenPolicy {
  return {
    apiVersion: 'tokenwarden.dev/v1alpha1',
    kind: 'TokenPolicy',
    metadata: { name: 'orders-api', namespace: 'shop' },
    spec: {
      issuers: [{ issuer: ISS, audiences: [AUD], jwks: { keys: jwks } }],
      rules: [
        { name: 'health', paths: ['/healthz'], action: 'Allow' },
        { name: 'admin', paths: ['/admin/*'], action: 'Deny' },
        {
          name: 'scoped',
          paths: ['/scoped/*'],
          action: 'Authenticate',
          requiredScopes: ['orders:admin'],
          requiredClaims: { role: 'admin' },
        },
        { name: 'claims', paths: ['/claims/*'], action: 'Authenticate', requiredClaims: { role: 'admin' } },
      ],
      forwardClaims: [{ claim: 'sub', header: 'X-Auth-Subject' }],
      ...spec,
    },
  };
}

export function revocation(name: string, tokens: TokenRevocation['spec']['tokens']): TokenRevocation {
  return {
    apiVersion: 'tokenwarden.dev/v1alpha1',
    kind: 'TokenRevocation',
    metadata: { name },
    spec: { tokens },
  };
}

export interface Rig {
  engine: Engine;
  state: EnforcementState;
  cache: VerifiedTokenCache;
  keys: KeyStore;
  clock: { ms: number };
  apply(p: TokenPolicy, revocations?: TokenRevocation[]): Promise<void>;
}

const rigs: KeyStore[] = [];

/**
 * A key layer that answers every lookup through a promise (as one does while a key set is being
 * fetched), with the store's own answer and version: for tests of what happens while a
 * verification waits.
 */
export function waitingKeys(keys: KeyStore): KeyResolver {
  return {
    get version() {
      return keys.version;
    },
    resolve: (issuer, kid, alg) => Promise.resolve(keys.resolve(issuer, kid, alg)),
  };
}

export async function rig(
  p?: TokenPolicy,
  revocations: TokenRevocation[] = [],
  wrapKeys: (keys: KeyStore) => KeyResolver = (keys) => keys,
  deps: Partial<Omit<EngineDeps, 'state' | 'verifier' | 'cache' | 'keys' | 'now'>> = {},
): Promise<Rig> {
  const state = new EnforcementState();
  const keys = new KeyStore();
  rigs.push(keys);
  const cache = new VerifiedTokenCache();
  const clock = { ms: NOW * 1000 };
  const resolver = wrapKeys(keys);
  const engine = new Engine({
    state,
    verifier: new TokenVerifier(resolver),
    cache,
    reuse: new MemoryReuseStore(),
    keys: resolver,
    now: () => clock.ms,
    ...deps,
  });
  const apply = async (next: TokenPolicy, revs: TokenRevocation[] = []): Promise<void> => {
    const active = state.apply(compilePolicy(next), revs, clock.ms);
    await keys.sync(active.policy.issuers.values());
  };
  if (p) await apply(p, revocations);
  return { engine, state, cache, keys, clock, apply };
}

/** Facts of a request for `path` (with `extra.query` as its query, when given) bearing `t`. */
export function facts(
  path: string,
  t?: string,
  { query, ...extra }: Partial<RequestFacts> & { query?: string } = {},
): RequestFacts {
  return {
    method: 'GET',
    target: query === undefined ? path : `${path}?${query}`,
    authorization: t === undefined ? [] : [`Bearer ${t}`],
    client: '10.0.0.7',
    ...extra,
  };
}

export async function decide(r: Rig, f: RequestFacts): Promise<Decision> {
  return r.engine.decide(f);
}

export function asReject(d: Decision): Reject {
  if (d.kind !== 'reject') throw new Error(`expected a reject, got ${JSON.stringify(d)}`);
  return d;
}

export function asForward(d: Decision): Forward {
  if (d.kind !== 'forward') throw new Error(`expected a forward, got ${JSON.stringify(d)}`);
  return d;
}

export function useEngineRig(): void {
  beforeAll(() => {
    rsa = key('rsa-1', 'RS256');
    ec = key('ec-1', 'ES256');
    stranger = key('stranger', 'RS256');
  });
  afterAll(() => {
    for (const k of rigs) k.close();
  });
}
