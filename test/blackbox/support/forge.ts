/**
 * Tokens no honest issuer makes: unsigned, HMAC-signed with a public key, tampered with, or with
 * an ECDSA signature rewritten into its twin. Each one is recorded in the ledger like any token.
 */
import { constants, createHash, createHmac, KeyObject, sign } from 'node:crypto';
import type { CryptoKey } from 'jose';
import { malleate as malleateSignature } from '../../support/tokens.js';
import { recordToken } from './ledger.js';

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function keep(token: string): string {
  recordToken(token);
  return token;
}

/** `alg: none`, signature part empty (the RFC 7519 §6 unsecured JWT). */
export function unsignedToken(payload: Record<string, unknown>): string {
  return keep(`${b64({ alg: 'none', typ: 'JWT' })}.${b64(payload)}.`);
}

/** `alg: none` with a (meaningless) signature part, so only the alg can refuse it. */
export function noneWithSignature(payload: Record<string, unknown>, kid: string): string {
  return keep(
    `${b64({ alg: 'none', kid, typ: 'JWT' })}.${b64(payload)}.${Buffer.from('x'.repeat(40)).toString('base64url')}`,
  );
}

/** HS256 over the payload with `secret` (the RSA public key PEM in the key-confusion attack). */
export function hmacToken(payload: Record<string, unknown>, kid: string, secret: string): string {
  const signed = `${b64({ alg: 'HS256', kid, typ: 'JWT' })}.${b64(payload)}`;
  return keep(`${signed}.${createHmac('sha256', secret).update(signed).digest('base64url')}`);
}

/** The same header and signature over a different payload: a signature that does not verify. */
export function tamperedPayload(token: string, change: Record<string, unknown>): string {
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
  return keep(`${header}.${b64({ ...claims, ...change })}.${signature}`);
}

/** The ES256 signature (r, s) rewritten to (r, n − s): a second valid signature, same signed part. */
export function malleate(token: string): string {
  return keep(malleateSignature(token));
}

/** `tokenSha256` of the revocation API: SHA-256 hex of everything before the last `.`. */
export function signedPartSha256(token: string): string {
  return createHash('sha256')
    .update(token.slice(0, token.lastIndexOf('.')))
    .digest('hex');
}

/** The log fingerprint: the first 12 hex characters of `signedPartSha256`. */
export function fingerprint(token: string): string {
  return signedPartSha256(token).slice(0, 12);
}

export function payloadOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >;
}

/** PS256 with the issuer's RSA key: a genuine signature under an alg the policy does not allow. */
export function pssToken(payload: Record<string, unknown>, kid: string, privateKey: CryptoKey): string {
  const signed = `${b64({ alg: 'PS256', kid, typ: 'JWT' })}.${b64(payload)}`;
  const key = KeyObject.from(privateKey);
  const signature = sign('sha256', Buffer.from(signed), {
    key,
    padding: constants.RSA_PKCS1_PSS_PADDING,
    saltLength: 32,
  });
  return keep(`${signed}.${signature.toString('base64url')}`);
}
