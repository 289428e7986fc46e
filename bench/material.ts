/**
 * Keys, tokens, and the policy and PEM files every target reads. Private keys live only in
 * this process's memory (and its signing worker threads): nothing secret is written, only
 * public keys and signed tokens.
 */
import { generateKeyPairSync } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { stringify } from 'yaml';
import { isMissScenario } from './config.js';
import type { ScenarioName } from './config.js';
import { benchPolicy, signRange, signToken } from './jwt.js';
import type { Alg, SigningSpec } from './jwt.js';
import type { SignJob } from './sign-worker.js';

export { AUDIENCE, ISSUER, TOKEN_LIFETIME_SECONDS } from './jwt.js';
export type { Alg } from './jwt.js';

/** Signing on the main thread alone is fine below this; above it, worker threads share it. */
const SINGLE_THREAD_LIMIT_SECONDS = 20;

export interface Material {
  /** One file of tokens (one a line) per selected scenario, read by the wrk script. */
  tokenFiles: Partial<Record<ScenarioName, string>>;
  /** Distinct tokens in each selected scenario's file. */
  tokenCounts: Partial<Record<ScenarioName, number>>;
  /** A valid token of each algorithm (the `-one` token), for the pre-flight checks. */
  sampleTokens: Record<Alg, string>;
  /** Files holding exactly the sample token, for the raw verify measurement. */
  sampleTokenFiles: Record<Alg, string>;
  /** SPKI PEM public keys, the form HAProxy's jwt_verify loads. */
  publicKeyPems: Record<Alg, string>;
  /** Standalone sidecar policy: one TokenPolicy with the public keys inline. */
  policyFile: string;
  /** Tokens expire TOKEN_LIFETIME_SECONDS after this instant (epoch seconds). */
  issuedAt: number;
  /** How the *-miss pools were signed, when any miss scenario was selected. */
  missSigning: { tokens: number; seconds: number; workers: number } | undefined;
}

interface SigningKey extends SigningSpec {
  publicKey: KeyObject;
}

function signingKey(alg: Alg): SigningKey {
  const { privateKey, publicKey } =
    alg === 'RS256'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { alg, kid: `bench-${alg.toLowerCase()}`, privateKey, publicKey };
}

function signInWorker(job: SignJob): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./sign-worker.js', import.meta.url), { workerData: job });
    worker.once('message', (tokens: string[]) => resolve(tokens));
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`token signing worker exited with code ${code}`));
    });
  });
}

/**
 * `count` tokens per key. A first slice is signed here and timed; if the rest would take more
 * than SINGLE_THREAD_LIMIT_SECONDS, it is split over one worker thread per CPU (nothing else of
 * the benchmark runs yet, so both CPUs are free).
 */
export async function signMany(
  keys: readonly SigningSpec[],
  count: number,
  iat: number,
  singleThreadLimitSeconds = SINGLE_THREAD_LIMIT_SECONDS,
): Promise<{ tokens: Map<Alg, string[]>; workers: number }> {
  const sample = Math.min(count, 100);
  const tokens = new Map<Alg, string[]>();
  let projectedMs = 0;
  for (const key of keys) {
    const started = performance.now();
    tokens.set(key.alg, signRange(key, 0, sample, iat));
    projectedMs += ((performance.now() - started) / sample) * (count - sample);
  }
  const cpus = availableParallelism();
  const workers = projectedMs > singleThreadLimitSeconds * 1000 && cpus > 1 ? cpus : 0;
  for (const key of keys) {
    const done = tokens.get(key.alg)!;
    if (workers === 0) {
      done.push(...signRange(key, sample, count, iat));
      continue;
    }
    const step = Math.ceil((count - sample) / workers);
    const ranges = Array.from({ length: workers }, (_, w) => [
      sample + w * step,
      Math.min(count, sample + (w + 1) * step),
    ]).filter(([from, to]) => from! < to!);
    const parts = await Promise.all(
      ranges.map(([from, to]) => signInWorker({ key, from: from!, to: to!, iat })),
    );
    for (const part of parts) done.push(...part);
  }
  return { tokens, workers };
}

async function tokenFile(dir: string, name: string, tokens: readonly string[]): Promise<string> {
  const path = join(dir, `${name}.tokens`);
  await writeFile(path, tokens.join('\n') + '\n');
  return path;
}

export async function writeMaterial(
  dir: string,
  sizes: { pool: number; miss: number },
  scenarios: readonly ScenarioName[],
): Promise<Material> {
  const rsa = signingKey('RS256');
  const ec = signingKey('ES256');
  const keyOf: Record<Alg, SigningKey> = { RS256: rsa, ES256: ec };
  const iat = Math.floor(Date.now() / 1000);
  const one: Record<Alg, string> = {
    RS256: signToken(rsa, 'user-repeated', iat),
    ES256: signToken(ec, 'user-repeated', iat),
  };
  const pool: Record<Alg, string[]> = {
    RS256: signRange(rsa, 0, sizes.pool, iat),
    ES256: signRange(ec, 0, sizes.pool, iat),
  };
  let missSigning: Material['missSigning'];
  let miss: Map<Alg, string[]> | undefined;
  const missAlgs = [...new Set(scenarios.filter(isMissScenario).map(algorithmOf))];
  if (missAlgs.length > 0) {
    const started = performance.now();
    const signed = await signMany(
      missAlgs.map((alg) => keyOf[alg]),
      sizes.miss,
      iat,
    );
    miss = signed.tokens;
    missSigning = {
      tokens: sizes.miss * missAlgs.length,
      seconds: (performance.now() - started) / 1000,
      workers: signed.workers,
    };
  }

  const tokenFiles: Material['tokenFiles'] = {};
  const tokenCounts: Material['tokenCounts'] = {};
  for (const scenario of scenarios) {
    const alg = algorithmOf(scenario);
    const tokens = scenario.endsWith('-pool')
      ? pool[alg]
      : scenario.endsWith('-one')
        ? [one[alg]]
        : miss?.get(alg);
    if (tokens === undefined) throw new Error(`no tokens for ${scenario}`);
    tokenFiles[scenario] = await tokenFile(dir, scenario, tokens);
    tokenCounts[scenario] = tokens.length;
  }

  const pem = async (key: SigningKey): Promise<string> => {
    const path = join(dir, `${key.alg.toLowerCase()}.pub.pem`);
    await writeFile(path, key.publicKey.export({ type: 'spki', format: 'pem' }));
    return path;
  };
  const policyFile = join(dir, 'policy.yaml');
  const publicJwk = (k: SigningKey) => ({
    ...k.publicKey.export({ format: 'jwk' }),
    kid: k.kid,
    alg: k.alg,
    use: 'sig',
  });
  await writeFile(policyFile, stringify(benchPolicy([publicJwk(rsa), publicJwk(ec)])));

  return {
    tokenFiles,
    tokenCounts,
    sampleTokens: one,
    sampleTokenFiles: {
      RS256: await tokenFile(dir, 'sample-rs256', [one.RS256]),
      ES256: await tokenFile(dir, 'sample-es256', [one.ES256]),
    },
    publicKeyPems: { RS256: await pem(rsa), ES256: await pem(ec) },
    policyFile,
    issuedAt: iat,
    missSigning,
  };
}

export function algorithmOf(scenario: ScenarioName): Alg {
  return scenario.startsWith('rs256') ? 'RS256' : 'ES256';
}

/** The same token with one signature character changed: must be refused by an auth target. */
export function tamper(token: string): string {
  const dot = token.lastIndexOf('.');
  const at = dot + Math.floor((token.length - dot) / 2);
  const replacement = token[at] === 'A' ? 'B' : 'A';
  return token.slice(0, at) + replacement + token.slice(at + 1);
}
