/**
 * The one token factory of the test suites (unit and black-box): real keys and real signatures. Tokens are built by hand (header
 * and payload JSON → base64url → signature over the signed part) so a test can produce any
 * header at all, including the ones a library would refuse to sign.
 */
import { createHmac, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import type { JWK } from 'jose';
import type {
  Algorithm,
  CompiledExpiry,
  CompiledIssuer,
  CompiledPolicy,
  KeySourceSpec,
} from '../../src/policy/types.js';

/** For hooks that generate RSA keys: seconds of CPU when many test workers share a machine. */
export const KEYGEN_TIMEOUT_MS = 60_000;

/** A fixed "now" for every test: 2027-01-15T08:00:00Z. */
export const NOW = 1_800_000_000;

export interface TestKey {
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** Public JWK with kid (and alg when `pinAlg`). */
  readonly jwk: JWK;
}

export function rsaKey(kid: string, pinAlg?: Algorithm): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return withJwk(kid, privateKey, publicKey, pinAlg);
}

export function ecKey(kid: string, pinAlg?: Algorithm): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return withJwk(kid, privateKey, publicKey, pinAlg);
}

export function edKey(kid: string): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return withJwk(kid, privateKey, publicKey);
}

function withJwk(kid: string, privateKey: KeyObject, publicKey: KeyObject, alg?: Algorithm): TestKey {
  const jwk = { ...(publicKey.export({ format: 'jwk' }) as JWK), kid, ...(alg ? { alg } : {}) };
  return { kid, privateKey, publicKey, jwk };
}

export function b64url(value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

/** The JWS signature of `signedPart` under `alg` with a node KeyObject (or an HMAC secret). */
export function signature(alg: string, signedPart: string, key: KeyObject | Buffer): string {
  const data = Buffer.from(signedPart);
  if (alg.startsWith('HS'))
    return createHmac(`sha${alg.slice(2)}`, key)
      .update(data)
      .digest('base64url');
  const k = key as KeyObject;
  if (alg === 'EdDSA') return sign(null, data, k).toString('base64url');
  const hash = `sha${alg.slice(2)}`;
  if (alg.startsWith('ES'))
    return sign(hash, data, { key: k, dsaEncoding: 'ieee-p1363' }).toString('base64url');
  if (alg.startsWith('PS')) {
    return sign(hash, data, {
      key: k,
      padding: 6 /* RSA_PKCS1_PSS_PADDING */,
      saltLength: Number(alg.slice(2)) / 8,
    }).toString('base64url');
  }
  return sign(hash, data, k).toString('base64url');
}

/** A compact JWS with exactly this header and payload, signed by `key`. */
export function jws(header: Record<string, unknown>, payload: unknown, key: KeyObject | Buffer): string {
  const signedPart = `${b64url(header)}.${b64url(payload)}`;
  return `${signedPart}.${signature(String(header.alg), signedPart, key)}`;
}

export const ISSUER = 'https://auth.example.com/';
export const AUDIENCE = 'orders-api';

/** Claims of a token that every default check accepts at NOW. */
export function claims(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { iss: ISSUER, aud: AUDIENCE, sub: 'user-42', jti: 'j-1', iat: NOW - 60, exp: NOW + 600, ...extra };
}

/** `claims(extra)` where an `undefined` value removes that claim (a token missing `exp`, say). */
export function claimsWithout(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return Object.fromEntries(Object.entries(claims(extra)).filter(([, v]) => v !== undefined));
}

export function issuer(
  keySource: KeySourceSpec,
  opts: { issuer?: string; audiences?: string[]; algorithms?: Algorithm[] } = {},
): CompiledIssuer {
  return {
    issuer: opts.issuer ?? ISSUER,
    audiences: new Set(opts.audiences ?? [AUDIENCE]),
    algorithms: new Set(opts.algorithms ?? ['RS256', 'ES256', 'EdDSA']),
    keySource,
  };
}

export function policy(
  issuers: CompiledIssuer[],
  expiry: Partial<CompiledExpiry> = {},
  specHash = 'spec-1',
): CompiledPolicy {
  return {
    name: 'orders-api',
    namespace: 'shop',
    generation: 1,
    mode: 'Enforce',
    targetPort: 8080,
    issuers: new Map(issuers.map((i) => [i.issuer, i])),
    expiry: {
      requireExp: true,
      clockSkewSeconds: 30,
      maxTokenAgeSeconds: undefined,
      maxLifetimeSeconds: undefined,
      ...expiry,
    },
    maxUses: 0,
    rules: [],
    forwardClaims: [],
    specHash,
  };
}

/** PEM of a public key: the "secret" of the classic HS256 key-confusion attack. */
export function publicPem(key: TestKey): string {
  return key.publicKey.export({ format: 'pem', type: 'spki' }).toString();
}

/** P-256 group order, for rewriting an ECDSA signature (r, s) into (r, n − s). */
const P256_N = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');

/** The same ES256 token with its signature malleated: s → n − s. */
export function malleate(token: string): string {
  const lastDot = token.lastIndexOf('.');
  const sig = Buffer.from(token.slice(lastDot + 1), 'base64url');
  if (sig.length !== 64) throw new Error(`not a raw ES256 signature (${sig.length} bytes)`);
  const s = BigInt(`0x${sig.subarray(32).toString('hex')}`);
  const flipped = Buffer.from((P256_N - s).toString(16).padStart(64, '0'), 'hex');
  return `${token.slice(0, lastDot)}.${Buffer.concat([sig.subarray(0, 32), flipped]).toString('base64url')}`;
}
