/**
 * Every jose error code mapped to our reason, in one table (STYLE: one closed union of codes,
 * mapped in exactly one place). Descriptions are fixed strings rather than jose's messages: a
 * message is not a contract and could one day quote part of the token.
 *
 * Most rows cannot fire today, because verify.ts decodes, checks the alg and resolves the key
 * before calling jose, and checks claims itself. They are here so that a jose upgrade that
 * starts throwing one of them still yields the right reason, never a 500.
 */
import { errors } from 'jose';
import type { ClaimFailure } from './claims.js';

const TABLE: Readonly<Record<errors.JOSEErrorCode, ClaimFailure>> = {
  ERR_JWS_SIGNATURE_VERIFICATION_FAILED: {
    reason: 'bad_signature',
    description: 'the signature does not verify',
  },
  ERR_JOSE_GENERIC: { reason: 'bad_signature', description: 'the signature could not be verified' },
  ERR_JWS_INVALID: { reason: 'malformed', description: 'the token is not a valid JWS' },
  ERR_JWT_INVALID: { reason: 'malformed', description: 'the token is not a valid JWT' },
  ERR_JWT_CLAIM_VALIDATION_FAILED: { reason: 'malformed', description: 'a registered claim is invalid' },
  ERR_JWE_INVALID: { reason: 'malformed', description: 'encrypted tokens (JWE) are not accepted' },
  ERR_JWE_DECRYPTION_FAILED: { reason: 'malformed', description: 'encrypted tokens (JWE) are not accepted' },
  ERR_JWT_EXPIRED: { reason: 'expired', description: 'the token has expired' },
  ERR_JOSE_ALG_NOT_ALLOWED: { reason: 'alg_not_allowed', description: 'the token alg is not allowed' },
  ERR_JOSE_NOT_SUPPORTED: {
    reason: 'alg_not_allowed',
    description: 'the token alg or key type is not supported',
  },
  ERR_JWK_INVALID: { reason: 'unknown_key', description: 'the key of the token is not a valid JWK' },
  ERR_JWKS_INVALID: { reason: 'unknown_key', description: 'the key set of the issuer is invalid' },
  ERR_JWKS_NO_MATCHING_KEY: { reason: 'unknown_key', description: 'no key of the issuer matches the token' },
  ERR_JWKS_MULTIPLE_MATCHING_KEYS: {
    reason: 'unknown_key',
    description: 'several keys of the issuer match the token',
  },
  ERR_JWKS_TIMEOUT: {
    reason: 'unknown_key',
    description: 'the key set of the issuer could not be fetched in time',
  },
};

/**
 * Not a JOSEError: WebCrypto's TypeError when a key cannot do what the header asks (an RSA key
 * under 2048 bits, a key/alg mismatch that slipped past the key lookup). The token was not
 * verified, and no other key would be tried: a bad signature as far as the client is concerned.
 */
const UNUSABLE_KEY: ClaimFailure = {
  reason: 'bad_signature',
  description: 'the key of the issuer cannot verify this token',
};

/** The reason for anything compactVerify threw. Total: there is no error it leaves unmapped. */
export function joseFailure(err: unknown): ClaimFailure {
  if (err instanceof errors.JOSEError) {
    const row = (TABLE as Readonly<Record<string, ClaimFailure | undefined>>)[err.code];
    if (row !== undefined) return row;
  }
  return UNUSABLE_KEY;
}
