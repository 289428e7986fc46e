/** Key material shared by the test projects: real keys, generated per call. */
import { exportJWK, generateKeyPair, type JWK } from 'jose';

/** A fresh ES256 public key as a JWK, as an issuer's JWKS would list it. */
export async function publicJwk(kid = 'k1'): Promise<JWK> {
  const { publicKey } = await generateKeyPair('ES256', { extractable: true });
  return { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
}
