/**
 * Token hashes. Two different hashes on purpose:
 *
 * - `signedPartSha256` covers the compact JWS up to (not including) its last `.`: the
 *   base64url header, `.`, the base64url payload. It is the `tokenSha256` of a TokenRevocation
 *   and the source of the log fingerprint. The signature is left out because a signature can be
 *   rewritten into another valid one (ECDSA s → n − s), so a hash over it would let the holder
 *   of a revoked token escape revocation; the signed part cannot change without breaking the
 *   signature.
 * - `wholeTokenSha256` covers every byte, signature included. It keys the verified-token cache
 *   (see cache.ts): a key that ignored the signature would let a forged signature ride on a
 *   token verified earlier.
 *
 * `hash()` (one-shot, node ≥ 20.12) rather than `createHash()`: this runs on every request and
 * the one-shot form skips the Hash object.
 */
import { hash } from 'node:crypto';

/** Length of the log fingerprint, in hex characters. */
export const FINGERPRINT_LENGTH = 12;

/**
 * The signed part of a compact JWS: everything before its last `.`. A string without a `.` has
 * no signature to leave out, so the whole string is its own signed part; decode.ts refuses such
 * tokens long before anyone hashes them, and revoking one by its hash still works.
 */
export function signedPart(token: string): string {
  const lastDot = token.lastIndexOf('.');
  return lastDot === -1 ? token : token.slice(0, lastDot);
}

/** Lowercase hex SHA-256 of the signed part: the `tokenSha256` of the revocation API. */
export function signedPartSha256(token: string): string {
  return hash('sha256', signedPart(token), 'hex');
}

/** First 12 hex characters of `signedPartSha256`: the only token identity logs ever carry. */
export function fingerprint(token: string): string {
  return signedPartSha256(token).slice(0, FINGERPRINT_LENGTH);
}

/** Lowercase hex SHA-256 of every byte of the token, signature included: the cache key. */
export function wholeTokenSha256(token: string): string {
  return hash('sha256', token, 'hex');
}
