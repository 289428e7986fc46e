/**
 * The decision pipeline in process: a real compiled policy, a real KeyStore (inline keys, and a
 * JWKS served on 127.0.0.1 for rotation), real signatures, the clock passed in as `now`.
 */
import { createHash, createHmac, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JWK } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { KeyStore } from '../../../src/keys/store.js';
import { compilePolicy } from '../../../src/policy/compile.js';
import type { TokenPolicy, TokenPolicySpec, TokenRevocation } from '../../../src/policy/types.js';
import { ReuseCounter } from '../../../src/revocation/reuse.js';
import type { Decision, Forward, Reject } from '../../../src/decide/decision.js';
import { Engine, type RequestFacts } from '../../../src/decide/engine.js';
import { ConfigState } from '../../../src/decide/state.js';
import { VerifiedTokenCache } from '../../../src/token/cache.js';
import { TokenVerifier } from '../../../src/token/verify.js';

/** 2027-01-15T08:00:00Z, far from the real clock: only the injected `now` can make tokens valid. */
const NOW = 1_800_000_000;
const ISS = 'https://auth.example.com/';
const AUD = 'orders-api';

interface Key {
  kid: string;
  alg: 'RS256' | 'ES256';
  privateKey: KeyObject;
  publicKey: KeyObject;
  jwk: JWK;
}

function key(kid: string, alg: 'RS256' | 'ES256'): Key {
  const pair =
    alg === 'RS256'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    kid,
    alg,
    privateKey: pair.privateKey,
    publicKey: pair.publicKey,
    jwk: { ...(pair.publicKey.export({ format: 'jwk' }) as JWK), kid, alg, use: 'sig' },
  };
}

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');

function token(k: Key, extra: Record<string, unknown> = {}, header: Record<string, unknown> = {}): string {
  const payload = Object.fromEntries(
    Object.entries({
      iss: ISS,
      aud: AUD,
      sub: 'user-1',
      jti: 'j-1',
      iat: NOW - 60,
      exp: NOW + 600,
      ...extra,
    }).filter(([, v]) => v !== undefined),
  );
  const signed = `${b64({ alg: k.alg, kid: k.kid, typ: 'JWT', ...header })}.${b64(payload)}`;
  const sig = sign(
    'sha256',
    Buffer.from(signed),
    k.alg === 'ES256' ? { key: k.privateKey, dsaEncoding: 'ieee-p1363' } : k.privateKey,
  );
  return `${signed}.${sig.toString('base64url')}`;
}

const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

function malleate(t: string): string {
  const dot = t.lastIndexOf('.');
  const sig = Buffer.from(t.slice(dot + 1), 'base64url');
  const s = BigInt(`0x${sig.subarray(32).toString('hex')}`);
  const twin = Buffer.from((P256_N - s).toString(16).padStart(64, '0'), 'hex');
  return `${t.slice(0, dot)}.${Buffer.concat([sig.subarray(0, 32), twin]).toString('base64url')}`;
}

const sha = (t: string): string =>
  createHash('sha256')
    .update(t.slice(0, t.lastIndexOf('.')))
    .digest('hex');

let rsa: Key;
let ec: Key;
let stranger: Key;

beforeAll(() => {
  rsa = key('rsa-1', 'RS256');
  ec = key('ec-1', 'ES256');
  stranger = key('stranger', 'RS256');
});

function policyOf(spec: Partial<TokenPolicySpec> = {}, jwks: JWK[] = [rsa.jwk, ec.jwk]): TokenPolicy {
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

function revocation(name: string, tokens: TokenRevocation['spec']['tokens']): TokenRevocation {
  return {
    apiVersion: 'tokenwarden.dev/v1alpha1',
    kind: 'TokenRevocation',
    metadata: { name },
    spec: { tokens },
  };
}

interface Rig {
  engine: Engine;
  state: ConfigState;
  cache: VerifiedTokenCache;
  keys: KeyStore;
  clock: { ms: number };
  apply(p: TokenPolicy, revocations?: TokenRevocation[]): Promise<void>;
}

const rigs: KeyStore[] = [];

async function rig(p?: TokenPolicy, revocations: TokenRevocation[] = []): Promise<Rig> {
  const state = new ConfigState();
  const keys = new KeyStore();
  rigs.push(keys);
  const cache = new VerifiedTokenCache();
  const clock = { ms: NOW * 1000 };
  const engine = new Engine({
    state,
    verifier: new TokenVerifier(keys),
    cache,
    reuse: new ReuseCounter(),
    keys,
    now: () => clock.ms,
  });
  const apply = async (next: TokenPolicy, revs: TokenRevocation[] = []): Promise<void> => {
    const active = state.apply(compilePolicy(next), revs, clock.ms);
    await keys.sync(active.policy.issuers.values());
  };
  if (p) await apply(p, revocations);
  return { engine, state, cache, keys, clock, apply };
}

afterAll(() => {
  for (const k of rigs) k.close();
});

function facts(path: string, t?: string, extra: Partial<RequestFacts> = {}): RequestFacts {
  return {
    method: 'GET',
    path,
    target: path,
    query: '',
    authorization: t === undefined ? [] : [`Bearer ${t}`],
    client: '10.0.0.7',
    ...extra,
  };
}

async function decide(r: Rig, f: RequestFacts): Promise<Decision> {
  return r.engine.decide(f);
}

function asReject(d: Decision): Reject {
  if (d.kind !== 'reject') throw new Error(`expected a reject, got ${JSON.stringify(d)}`);
  return d;
}

function asForward(d: Decision): Forward {
  if (d.kind !== 'forward') throw new Error(`expected a forward, got ${JSON.stringify(d)}`);
  return d;
}

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
      await decide(r, facts('/healthz', undefined, { authorization: ['Bearer !!!', 'Bearer !!!'] })),
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
        const pem = rsa.publicKey.export({ format: 'pem', type: 'spki' }).toString();
        const signed = `${b64({ alg: 'HS256', kid: 'rsa-1' })}.${b64({ iss: ISS, aud: AUD, exp: NOW + 60 })}`;
        return facts(
          '/orders/1',
          `${signed}.${createHmac('sha256', pem).update(signed).digest('base64url')}`,
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

describe('the verified-token cache in the pipeline', () => {
  it('a second request with the same token is decided synchronously', async () => {
    const r = await rig(policyOf());
    const t = token(rsa);
    const first = r.engine.decide(facts('/orders/1', t));
    expect(first).toBeInstanceOf(Promise);
    expect((await first).kind).toBe('forward');
    const second = r.engine.decide(facts('/orders/1', t));
    expect(second).not.toBeInstanceOf(Promise);
    expect((second as Decision).kind).toBe('forward');
  });

  it('revocation is checked on a cache hit: revoking a cached token refuses it at once', async () => {
    const r = await rig(policyOf());
    const t = token(rsa, { jti: 'j-cached' });
    expect((await decide(r, facts('/orders/1', t))).kind).toBe('forward');
    // Same spec (the cache survives), one revocation more.
    await r.apply(policyOf(), [revocation('late', [{ jti: 'j-cached' }])]);
    const d = r.engine.decide(facts('/orders/1', t));
    expect(d).not.toBeInstanceOf(Promise);
    expect(asReject(d as Decision)).toMatchObject({
      reason: 'revoked',
      description: 'revoked by TokenRevocation late',
    });
  });

  it('a forged signature on a cached token is verified, not served from the cache', async () => {
    const r = await rig(policyOf());
    const t = token(rsa);
    expect((await decide(r, facts('/orders/1', t))).kind).toBe('forward');
    const forged = `${t.slice(0, t.lastIndexOf('.'))}.${Buffer.alloc(256, 7).toString('base64url')}`;
    expect(asReject(await decide(r, facts('/orders/1', forged))).reason).toBe('bad_signature');
  });

  it('a spec change empties the cache: a removed audience stops a cached token', async () => {
    const r = await rig(policyOf());
    const t = token(rsa);
    expect((await decide(r, facts('/orders/1', t))).kind).toBe('forward');
    const narrower = policyOf();
    narrower.spec.issuers[0]!.audiences = ['other-api'];
    await r.apply(narrower);
    expect(asReject(await decide(r, facts('/orders/1', t))).reason).toBe('wrong_audience');
  });

  it('a result verified under a config replaced meanwhile is not cached', async () => {
    const r = await rig(policyOf());
    const pending = r.engine.decide(facts('/orders/1', token(rsa)));
    r.state.apply(compilePolicy(policyOf({ mode: 'Audit' })), [], r.clock.ms);
    expect((await pending).kind).toBe('forward');
    expect(r.cache.size).toBe(0);
  });

  it('a revoked ES256 token with its signature rewritten s → n − s is still revoked (tokenSha256 of the signed part)', async () => {
    const t = token(ec, { jti: 'j-es' });
    const twin = malleate(t);
    const open = await rig(policyOf());
    expect((await decide(open, facts('/orders/1', twin))).kind).toBe('forward'); // a genuine second signature
    const r = await rig(policyOf(), [revocation('by-hash', [{ tokenSha256: sha(t) }])]);
    expect(asReject(await decide(r, facts('/orders/1', t))).reason).toBe('revoked');
    expect(asReject(await decide(r, facts('/orders/1', twin))).reason).toBe('revoked');
  });
});

describe('reuse', () => {
  it('maxUses 2: the third use is refused as reused, counted per issuer and jti', async () => {
    const r = await rig(policyOf({ reuse: { maxUses: 2 } }));
    const t = token(rsa, { jti: 'j-reuse' });
    expect((await decide(r, facts('/orders/1', t))).kind).toBe('forward');
    expect((await decide(r, facts('/orders/1', t))).kind).toBe('forward');
    expect(asReject(await decide(r, facts('/orders/1', t)))).toMatchObject({
      reason: 'reused',
      description: 'use 3 of at most 2',
    });
    // The same jti signed again (another token) shares the count.
    expect(asReject(await decide(r, facts('/orders/1', token(ec, { jti: 'j-reuse' })))).reason).toBe(
      'reused',
    );
  });

  it('a token without jti is malformed while maxUses is set', async () => {
    const r = await rig(policyOf({ reuse: { maxUses: 1 } }));
    expect(asReject(await decide(r, facts('/orders/1', token(rsa, { jti: undefined }))))).toMatchObject({
      reason: 'malformed',
      stage: 'token',
    });
  });

  it('the count is not forgotten at exp while the clock skew still accepts the token', async () => {
    const r = await rig(policyOf({ reuse: { maxUses: 1 } }));
    const t = token(rsa, { jti: 'j-skew', exp: NOW + 10 });
    expect((await decide(r, facts('/orders/1', t))).kind).toBe('forward');
    r.clock.ms = (NOW + 15) * 1000; // past exp, inside the 30 s skew
    expect(asReject(await decide(r, facts('/orders/1', t))).reason).toBe('reused');
  });
});

describe('Audit mode', () => {
  it('forwards a refused token as audit_deny with the reason, and no claim headers', async () => {
    const r = await rig(policyOf({ mode: 'Audit' }));
    const d = asForward(await decide(r, facts('/orders/1', token(rsa, { iat: NOW - 900, exp: NOW - 60 }))));
    expect(d).toMatchObject({ decision: 'audit_deny', reason: 'expired', headers: [] });
    expect(d.token?.sub).toBe('user-1');
  });

  it.each([
    { name: 'no token', f: () => facts('/orders/1'), reason: 'missing' },
    { name: 'a Deny rule', f: () => facts('/admin/x', token(rsa)), reason: 'denied_by_rule' },
    {
      name: 'two Authorization headers',
      f: () =>
        facts('/orders/1', token(rsa), { authorization: [`Bearer ${token(rsa)}`, `Bearer ${token(rsa)}`] }),
      reason: 'malformed',
    },
  ])('forwards $name as audit_deny $reason', async ({ f, reason }) => {
    const r = await rig(policyOf({ mode: 'Audit' }));
    expect(asForward(await decide(r, f()))).toMatchObject({ decision: 'audit_deny', reason });
  });
});

describe('with a JWKS served over HTTP', () => {
  let server: Server;
  let published: JWK[];
  let fetches = 0;

  beforeAll(async () => {
    published = [];
    server = createServer((_req, res) => {
      fetches++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: published }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('a token of a key published after start-up is accepted after one refetch', async () => {
    const uri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
    published = [rsa.jwk];
    const p = policyOf();
    p.spec.issuers[0] = { issuer: ISS, audiences: [AUD], jwksUri: uri };
    const r = await rig(p);
    expect((await decide(r, facts('/orders/1', token(rsa)))).kind).toBe('forward');
    await new Promise((resolve) => setTimeout(resolve, 1_100)); // past the unknown-kid cooldown
    published = [rsa.jwk, ec.jwk];
    const before = fetches;
    expect((await decide(r, facts('/orders/1', token(ec)))).kind).toBe('forward');
    expect(fetches - before).toBe(1);
  });
});
