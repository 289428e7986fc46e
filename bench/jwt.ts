/**
 * Bench tokens signed with node:crypto directly: header and payload base64url-encoded by hand,
 * `crypto.sign` synchronously. Tens of thousands of RS256 signatures through jose would take
 * minutes; this is the same compact JWS, made in a fraction of the time. Shared by the main
 * thread and bench/sign-worker.ts.
 */
import { randomUUID, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { JWK } from 'jose';
import type { TokenPolicy } from '../src/policy/types.js';

export const ISSUER = 'https://issuer.bench.tokenwarden.dev/';
export const AUDIENCE = 'bench-api';
export const TOKEN_LIFETIME_SECONDS = 3600;

export type Alg = 'RS256' | 'ES256';

export interface SigningSpec {
  alg: Alg;
  kid: string;
  privateKey: KeyObject;
}

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Every bench token carries these claims, in this order (pool, one, miss alike). */
export function benchClaims(subject: string, iat: number): Record<string, string | number> {
  return {
    scope: 'orders:read',
    iss: ISSUER,
    aud: AUDIENCE,
    sub: subject,
    jti: randomUUID(),
    iat,
    exp: iat + TOKEN_LIFETIME_SECONDS,
  };
}

export function signToken(key: SigningSpec, subject: string, iat: number): string {
  const signingInput = `${b64({ alg: key.alg, kid: key.kid, typ: 'JWT' })}.${b64(benchClaims(subject, iat))}`;
  // JWS ES256 signatures are r‖s (IEEE P1363), not DER.
  const signature = sign('sha256', Buffer.from(signingInput), {
    key: key.privateKey,
    ...(key.alg === 'ES256' ? { dsaEncoding: 'ieee-p1363' as const } : {}),
  });
  return `${signingInput}.${signature.toString('base64url')}`;
}

/** Tokens for subjects `user-${from}` … `user-${to - 1}`. */
export function signRange(key: SigningSpec, from: number, to: number, iat: number): string[] {
  const tokens: string[] = [];
  for (let i = from; i < to; i++) tokens.push(signToken(key, `user-${i}`, iat));
  return tokens;
}

/** The standalone policy every Tokenwarden target enforces: both public keys inline. */
export function benchPolicy(jwks: readonly JWK[]): TokenPolicy {
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
          jwks: { keys: [...jwks] },
          algorithms: ['RS256', 'ES256'],
        },
      ],
    },
  };
}
