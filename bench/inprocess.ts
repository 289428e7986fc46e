/**
 * In-process microbenchmark of the decision path: CPU microseconds per `Engine.decide` on a
 * verified-token cache hit and on a miss (every decision a token the cache does not hold), next
 * to the raw `crypto.verify` of the same tokens. No sockets, no HTTP: what is left is the
 * sidecar's own work per request, and (miss − hit) ÷ raw verify says how much a miss costs
 * beyond the signature itself (target: ≤ 1.5).
 *
 *   npm run bench:inprocess   (or: npm run build && taskset -c 0 node dist/bench/inprocess.js)
 *
 * The wiring is the sidecar's (src/sidecar/run.ts): a KeyStore with the policy's inline keys, a
 * TokenVerifier over it, a VerifiedTokenCache, a MemoryReuseStore, one EnforcementState. Keys are fresh
 * RSA-2048 and P-256 pairs made here; tokens are signed here with node:crypto (nothing written).
 * CPU time is process.cpuUsage (user + system), so time spent waiting for a CPU is not counted.
 *
 * Variables: INPROC_TOKENS (distinct tokens per alg, default 1000), INPROC_ROUNDS (median of,
 * default 5), INPROC_ONLY=miss-rs|miss-es (run only that, INPROC_ROUNDS times, and print its
 * figure: for `node --cpu-prof`). Bounded: a few seconds at the defaults.
 */
import { createPublicKey, generateKeyPairSync, randomUUID, sign, verify, type KeyObject } from 'node:crypto';
import type { JWK } from 'jose';
import { Engine } from '../src/decide/engine.js';
import type { RequestFacts } from '../src/decide/request.js';
import { EnforcementState } from '../src/decide/state.js';
import type { Decision } from '../src/decide/decision.js';
import { KeyStore } from '../src/keys/store.js';
import { compilePolicy } from '../src/policy/compile.js';
import type { TokenPolicy } from '../src/policy/types.js';
import { MemoryReuseStore } from '../src/revocation/reuse.js';
import { VerifiedTokenCache } from '../src/token/cache.js';
import { TokenVerifier } from '../src/token/verify.js';
import { AUDIENCE, ISSUER, benchPolicy } from './jwt.js';

const TOKENS = Math.max(10, Math.min(20_000, Number(process.env.INPROC_TOKENS ?? 1000)));
const ROUNDS = Math.max(1, Math.min(21, Number(process.env.INPROC_ROUNDS ?? 5)));
/**
 * The miss cache holds one entry fewer than the pool, which is read round-robin: every lookup
 * misses and every insertion evicts, and each entry lives as long as it can (it is the
 * surviving entries that cost the garbage collector, as in the all-miss load).
 */
const MISS_CACHE_ENTRIES = TOKENS - 1;

type Alg = 'RS256' | 'ES256';

interface Key {
  alg: Alg;
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  jwk: JWK;
}

function makeKey(alg: Alg): Key {
  const { privateKey, publicKey } =
    alg === 'RS256'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const kid = `bench-${alg.toLowerCase()}`;
  const jwk = { ...(publicKey.export({ format: 'jwk' }) as JWK), kid, alg, use: 'sig' };
  return { alg, kid, privateKey, publicKey, jwk };
}

const b64url = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');

/** The claims of bench/material.ts: iss aud sub jti iat exp scope, one hour of validity. */
function signToken(key: Key, i: number, iat: number): string {
  const header = { alg: key.alg, kid: key.kid, typ: 'JWT' };
  const payload = {
    scope: 'orders:read',
    iss: ISSUER,
    aud: AUDIENCE,
    sub: `user-${i}`,
    jti: randomUUID(),
    iat,
    exp: iat + 3600,
  };
  const signedPart = `${b64url(header)}.${b64url(payload)}`;
  const data = Buffer.from(signedPart);
  const sig =
    key.alg === 'RS256'
      ? sign('sha256', data, key.privateKey)
      : sign('sha256', data, { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  return `${signedPart}.${sig.toString('base64url')}`;
}

interface Rig {
  engine: Engine;
  cache: VerifiedTokenCache;
  keys: KeyStore;
}

async function rig(p: TokenPolicy, cacheEntries: number): Promise<Rig> {
  const state = new EnforcementState();
  const keys = new KeyStore();
  const cache = new VerifiedTokenCache({ maxEntries: cacheEntries });
  const engine = new Engine({
    state,
    verifier: new TokenVerifier(keys),
    cache,
    reuse: new MemoryReuseStore(),
    keys,
  });
  const active = state.apply(compilePolicy(p), [], Date.now());
  await keys.sync(active.policy.issuers.values());
  return { engine, cache, keys };
}

function facts(token: string): RequestFacts {
  return {
    method: 'GET',
    target: '/orders',
    authorization: [`Bearer ${token}`],
    client: '127.0.0.1',
  };
}

function check(d: Decision): void {
  if (d.kind !== 'forward' || d.decision !== 'allow') {
    throw new Error(`a valid token was not allowed: ${JSON.stringify(d)}`);
  }
}

/** One pass over `requests`, awaiting only the decisions that are promises. µs CPU per decision. */
async function pass(engine: Engine, requests: readonly RequestFacts[]): Promise<number> {
  const start = process.cpuUsage();
  for (const f of requests) {
    const d = engine.decide(f);
    check(d instanceof Promise ? await d : d);
  }
  const used = process.cpuUsage(start);
  return (used.user + used.system) / requests.length;
}

function rawVerify(alg: Alg, key: KeyObject, tokens: readonly string[]): number {
  const parts = tokens.map((t) => {
    const dot = t.lastIndexOf('.');
    return { data: Buffer.from(t.slice(0, dot)), sig: Buffer.from(t.slice(dot + 1), 'base64url') };
  });
  const k = alg === 'RS256' ? key : { key, dsaEncoding: 'ieee-p1363' as const };
  const start = process.cpuUsage();
  for (const p of parts) if (!verify('sha256', p.data, k, p.sig)) throw new Error('raw verify failed');
  const used = process.cpuUsage(start);
  return (used.user + used.system) / parts.length;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

async function main(): Promise<void> {
  const rsa = makeKey('RS256');
  const ec = makeKey('ES256');
  const iat = Math.floor(Date.now() / 1000);
  const tokens: Record<Alg, string[]> = {
    RS256: Array.from({ length: TOKENS }, (_, i) => signToken(rsa, i, iat)),
    ES256: Array.from({ length: TOKENS }, (_, i) => signToken(ec, i, iat)),
  };
  const requests: Record<Alg, RequestFacts[]> = {
    RS256: tokens.RS256.map(facts),
    ES256: tokens.ES256.map(facts),
  };
  const p = benchPolicy([rsa.jwk, ec.jwk]);

  // Hits: a cache holding the whole pool (the bench's *-pool scenarios after warm-up).
  const hitRig = await rig(p, 2 * TOKENS);
  await pass(hitRig.engine, requests.RS256); // fills the cache
  await pass(hitRig.engine, requests.ES256);
  const hitRs: number[] = [];
  const hitEs: number[] = [];
  // Misses: see MISS_CACHE_ENTRIES.
  const missRig = await rig(p, MISS_CACHE_ENTRIES);
  const missRs: number[] = [];
  const missEs: number[] = [];
  const rawRs: number[] = [];
  const rawEs: number[] = [];
  const rsaPublic = createPublicKey({ key: rsa.jwk, format: 'jwk' });
  const ecPublic = createPublicKey({ key: ec.jwk, format: 'jwk' });
  // Warm-up: one unmeasured pass of each, so every path is compiled before it is timed.
  await pass(missRig.engine, requests.RS256);
  await pass(missRig.engine, requests.ES256);
  rawVerify('RS256', rsaPublic, tokens.RS256);
  rawVerify('ES256', ecPublic, tokens.ES256);
  const hitsBefore = missRig.cache.hits;
  const missesBefore = hitRig.cache.misses;
  const only = process.env.INPROC_ONLY;
  if (only === 'miss-rs' || only === 'miss-es') {
    const alg = only === 'miss-rs' ? 'RS256' : 'ES256';
    const xs: number[] = [];
    for (let r = 0; r < ROUNDS; r++) xs.push(await pass(missRig.engine, requests[alg]));
    console.log(`miss ${alg}: ${median(xs).toFixed(1)} µs CPU per decision (median of ${ROUNDS})`);
    hitRig.keys.close();
    missRig.keys.close();
    return;
  }
  for (let r = 0; r < ROUNDS; r++) {
    hitRs.push(await pass(hitRig.engine, requests.RS256));
    hitEs.push(await pass(hitRig.engine, requests.ES256));
    missRs.push(await pass(missRig.engine, requests.RS256));
    missEs.push(await pass(missRig.engine, requests.ES256));
    rawRs.push(rawVerify('RS256', rsaPublic, tokens.RS256));
    rawEs.push(rawVerify('ES256', ecPublic, tokens.ES256));
  }
  if (missRig.cache.hits !== hitsBefore) throw new Error('the miss rig answered from its cache');
  if (hitRig.cache.misses !== missesBefore) throw new Error('the hit rig missed its cache');
  hitRig.keys.close();
  missRig.keys.close();

  const h = { RS256: median(hitRs), ES256: median(hitEs) };
  const m = { RS256: median(missRs), ES256: median(missEs) };
  const raw = { RS256: median(rawRs), ES256: median(rawEs) };
  const f = (x: number): string => x.toFixed(1).padStart(8);
  console.log(
    `in-process decide, CPU µs per decision (median of ${ROUNDS} rounds, ${TOKENS} tokens per alg, node ${process.version})`,
  );
  console.log('alg    |      hit |     miss | raw verify | miss − hit | (miss − hit) ÷ raw');
  console.log('-------|----------|----------|------------|------------|-------------------');
  for (const alg of ['RS256', 'ES256'] as const) {
    const extra = m[alg] - h[alg];
    console.log(
      `${alg}  | ${f(h[alg])} | ${f(m[alg])} |   ${f(raw[alg])} |   ${f(extra)} | ${(extra / raw[alg]).toFixed(2).padStart(8)}`,
    );
  }
  console.log(
    `overhead of a miss beyond hit + raw verify: RS256 ${(m.RS256 - h.RS256 - raw.RS256).toFixed(1)} µs, ES256 ${(m.ES256 - h.ES256 - raw.ES256).toFixed(1)} µs`,
  );
}

await main();
