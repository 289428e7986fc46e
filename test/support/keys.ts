/** Key material shared by the test projects: real keys, generated per call. */
import { generateKeyPairSync, type JsonWebKey } from 'node:crypto';
import { exportJWK, generateKeyPair, type JWK } from 'jose';

/** A fresh ES256 public key as a JWK, as an issuer's JWKS would list it. */
export async function publicJwk(kid = 'k1'): Promise<JWK> {
  const { publicKey } = await generateKeyPair('ES256', { extractable: true });
  return { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
}

/** A fresh public key of each kind the CRD accepts inline, as node:crypto exports it (no kid). */
export function publicJwkOf(type: 'ec' | 'rsa' | 'ed25519'): JsonWebKey {
  const { publicKey } =
    type === 'ec'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : type === 'rsa'
        ? generateKeyPairSync('rsa', { modulusLength: 2048 })
        : generateKeyPairSync('ed25519');
  return publicKey.export({ format: 'jwk' });
}
