/**
 * Keys, tokens, and the policy and PEM files every target reads. Private keys live only in
 * this process's memory: nothing secret is written, only public keys and signed tokens.
 */
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SignJWT, exportJWK, exportSPKI, generateKeyPair } from 'jose';
import type { CryptoKey, JWK, KeyObject } from 'jose';
import { stringify } from 'yaml';
import type { TokenPolicy } from '../src/policy/types.js';
import type { ScenarioName } from './config.js';

export const ISSUER = 'https://issuer.bench.tokenwarden.dev/';
export const AUDIENCE = 'bench-api';
export const TOKEN_LIFETIME_SECONDS = 3600;

type Alg = 'RS256' | 'ES256';

export interface Material {
  /** One file of tokens (one a line) per scenario, read by the wrk script. */
  tokenFiles: Record<ScenarioName, string>;
  /** A valid token of each algorithm, for the pre-flight checks. */
  sampleTokens: Record<Alg, string>;
  /** SPKI PEM public keys, the form HAProxy's jwt_verify loads. */
  publicKeyPems: Record<Alg, string>;
  /** Standalone sidecar policy: one TokenPolicy with the public keys inline. */
  policyFile: string;
  /** Tokens expire this many seconds after this instant (epoch seconds). */
  issuedAt: number;
}

interface SigningKey {
  alg: Alg;
  kid: string;
  privateKey: CryptoKey | KeyObject;
  publicJwk: JWK;
  publicPem: string;
}

async function signingKey(alg: Alg): Promise<SigningKey> {
  const { privateKey, publicKey } =
    alg === 'RS256' ? await generateKeyPair(alg, { modulusLength: 2048 }) : await generateKeyPair(alg);
  const kid = `bench-${alg.toLowerCase()}`;
  const publicJwk: JWK = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { alg, kid, privateKey, publicJwk, publicPem: await exportSPKI(publicKey) };
}

async function sign(key: SigningKey, subject: string, iat: number): Promise<string> {
  return new SignJWT({ scope: 'orders:read' })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setSubject(subject)
    .setJti(randomUUID())
    .setIssuedAt(iat)
    .setExpirationTime(iat + TOKEN_LIFETIME_SECONDS)
    .sign(key.privateKey);
}

async function tokenFile(dir: string, name: string, tokens: readonly string[]): Promise<string> {
  const path = join(dir, `${name}.tokens`);
  await writeFile(path, tokens.join('\n') + '\n');
  return path;
}

function policy(keys: readonly SigningKey[]): TokenPolicy {
  return {
    apiVersion: 'tokenwarden.dev/v1alpha1',
    kind: 'TokenPolicy',
    metadata: { name: 'bench', namespace: 'default' },
    spec: {
      mode: 'Enforce',
      issuers: [
        {
          issuer: ISSUER,
          audiences: [AUDIENCE],
          jwks: { keys: keys.map((k) => k.publicJwk) },
          algorithms: ['RS256', 'ES256'],
        },
      ],
    },
  };
}

export async function writeMaterial(dir: string, poolSize: number): Promise<Material> {
  const [rsa, ec] = await Promise.all([signingKey('RS256'), signingKey('ES256')]);
  const iat = Math.floor(Date.now() / 1000);
  const pool = async (key: SigningKey): Promise<string[]> =>
    Promise.all(Array.from({ length: poolSize }, (_, i) => sign(key, `user-${i}`, iat)));
  const [rsaPool, ecPool, rsaOne, ecOne] = await Promise.all([
    pool(rsa),
    pool(ec),
    sign(rsa, 'user-repeated', iat),
    sign(ec, 'user-repeated', iat),
  ]);

  const pem = async (key: SigningKey): Promise<string> => {
    const path = join(dir, `${key.alg.toLowerCase()}.pub.pem`);
    await writeFile(path, key.publicPem);
    return path;
  };
  const policyFile = join(dir, 'policy.yaml');
  await writeFile(policyFile, stringify(policy([rsa, ec])));

  return {
    tokenFiles: {
      'rs256-pool': await tokenFile(dir, 'rs256-pool', rsaPool),
      'rs256-one': await tokenFile(dir, 'rs256-one', [rsaOne]),
      'es256-pool': await tokenFile(dir, 'es256-pool', ecPool),
      'es256-one': await tokenFile(dir, 'es256-one', [ecOne]),
    },
    sampleTokens: { RS256: rsaOne, ES256: ecOne },
    publicKeyPems: { RS256: await pem(rsa), ES256: await pem(ec) },
    policyFile,
    issuedAt: iat,
  };
}

/** The same token with one signature character changed: must be refused by an auth target. */
export function tamper(token: string): string {
  const dot = token.lastIndexOf('.');
  const at = dot + Math.floor((token.length - dot) / 2);
  const replacement = token[at] === 'A' ? 'B' : 'A';
  return token.slice(0, at) + replacement + token.slice(at + 1);
}
