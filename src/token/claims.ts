/**
 * Registered-claim checks (iss, aud, exp, nbf, iat, age, lifetime): pure functions of the
 * payload, the compiled policy and `nowSeconds`, in the jose manner (`currentDate` passed in).
 * Each check is one step of a chain (src/core/chain.ts), so the request path stops at the first
 * failure and the CLI lists them all from the same code.
 */
import type { JWTPayload } from 'jose';
import { runChain, type Failure, type Step } from '../core/chain.js';
import type { DenyReason } from '../core/reasons.js';
import type { CompiledExpiry, CompiledIssuer, CompiledPolicy } from '../policy/types.js';

export type ClaimFailure = Failure;

interface ClaimContext {
  readonly payload: JWTPayload;
  readonly issuer: CompiledIssuer | undefined;
  readonly expiry: CompiledExpiry;
  readonly now: number;
}

type ClaimCheck = (
  payload: JWTPayload,
  issuer: CompiledIssuer | undefined,
  expiry: CompiledExpiry,
  now: number,
) => ClaimFailure | undefined;

const fail = (reason: DenyReason, description: string): ClaimFailure => ({ reason, description });

/** A NumericDate (RFC 7519 §2): absent → undefined, present but not a finite number → null. */
function numericDate(payload: JWTPayload, claim: 'exp' | 'nbf' | 'iat'): number | undefined | null {
  const v: unknown = payload[claim];
  if (v === undefined) return undefined;
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** Seconds since the epoch as RFC 3339, or the bare number when out of Date's range. */
function at(seconds: number): string {
  const d = new Date(seconds * 1000);
  return Number.isNaN(d.getTime()) ? String(seconds) : d.toISOString();
}

/** Why the policy has no issuer for this payload (exported: verify.ts asks before the key lookup). */
export function unknownIssuer(p: JWTPayload): ClaimFailure {
  if (p.iss === undefined) return fail('wrong_issuer', 'the token has no iss claim');
  if (typeof p.iss !== 'string') return fail('malformed', 'the iss claim is not a string');
  return fail('wrong_issuer', 'the token issuer is not one this policy trusts');
}

const checkIssuer: ClaimCheck = (p, issuer) => (issuer === undefined ? unknownIssuer(p) : undefined);

const checkAudience: ClaimCheck = (p, issuer) => {
  if (issuer === undefined) return undefined; // audiences are per issuer: nothing to compare
  const aud: unknown = p.aud;
  if (aud === undefined) return fail('wrong_audience', 'the token has no aud claim');
  if (typeof aud === 'string') {
    if (issuer.audiences.has(aud)) return undefined;
  } else if (Array.isArray(aud)) {
    for (const a of aud) if (typeof a === 'string' && issuer.audiences.has(a)) return undefined;
  } else {
    return fail('malformed', 'the aud claim is neither a string nor an array');
  }
  return fail('wrong_audience', `the token audience is not one of: ${[...issuer.audiences].join(', ')}`);
};

/**
 * `sub` and `jti` (and `iss`, checked with the issuer) are StringOrURI (RFC 7519 §4.1.2, §4.1.7):
 * anything else is malformed. Revocation, reuse counting, logs and forwarded headers all read
 * these claims; a `sub` of `["admin"]` or `42` would otherwise be one value to a `subject:`
 * revocation and another to the app.
 */
const checkIdentifiers: ClaimCheck = (p) => {
  if (p.sub !== undefined && typeof p.sub !== 'string')
    return fail('malformed', 'the sub claim is not a string');
  if (p.jti !== undefined && typeof p.jti !== 'string')
    return fail('malformed', 'the jti claim is not a string');
  return undefined;
};

/**
 * The latest `exp` any policy accepts, relative to now: 10 years. A token valid for longer is
 * not an access token but a password; no policy setting lifts this (ADR 0007).
 */
export const MAX_EXP_AHEAD_SECONDS = 10 * 365 * 86_400;

const checkExp: ClaimCheck = (p, _i, expiry, now) => {
  const exp = numericDate(p, 'exp');
  if (exp === null) return fail('malformed', 'the exp claim is not a number');
  if (exp === undefined) {
    return expiry.requireExp
      ? fail('malformed', 'the token has no exp claim and this policy requires one')
      : undefined;
  }
  // RFC 7519 §4.1.4: not accepted ON or after exp; the skew extends that instant.
  if (now >= exp + expiry.clockSkewSeconds) {
    return fail('expired', `the token expired at ${at(exp)} (clock skew ${expiry.clockSkewSeconds}s)`);
  }
  if (exp - now > MAX_EXP_AHEAD_SECONDS) {
    return fail(
      'lifetime_too_long',
      `the token expires at ${at(exp)}, more than ${MAX_EXP_AHEAD_SECONDS}s (10 years) from now: no policy accepts that`,
    );
  }
  return undefined;
};

const checkNbf: ClaimCheck = (p, _i, expiry, now) => {
  const nbf = numericDate(p, 'nbf');
  if (nbf === null) return fail('malformed', 'the nbf claim is not a number');
  if (nbf !== undefined && now + expiry.clockSkewSeconds < nbf) {
    return fail(
      'not_yet_valid',
      `the token is not valid before ${at(nbf)} (clock skew ${expiry.clockSkewSeconds}s)`,
    );
  }
  return undefined;
};

const checkIat: ClaimCheck = (p, _i, expiry, now) => {
  const iat = numericDate(p, 'iat');
  if (iat === null) return fail('malformed', 'the iat claim is not a number');
  if (iat !== undefined && now + expiry.clockSkewSeconds < iat) {
    return fail('not_yet_valid', `the token was issued in the future, at ${at(iat)}`);
  }
  return undefined;
};

const checkAge: ClaimCheck = (p, _i, expiry, now) => {
  const max = expiry.maxTokenAgeSeconds;
  if (max === undefined) return undefined;
  const iat = numericDate(p, 'iat');
  if (iat === null) return undefined; // already reported by checkIat
  if (iat === undefined)
    return fail('malformed', 'the token has no iat claim and this policy limits token age');
  if (now - iat > max) return fail('too_old', `the token was issued at ${at(iat)}, more than ${max}s ago`);
  return undefined;
};

const checkLifetime: ClaimCheck = (p, _i, expiry) => {
  const max = expiry.maxLifetimeSeconds;
  if (max === undefined) return undefined;
  const exp = numericDate(p, 'exp');
  const iat = numericDate(p, 'iat');
  if (exp === null || iat === null) return undefined; // already reported
  if (exp === undefined || iat === undefined) {
    return fail('malformed', 'the token lacks exp or iat and this policy limits token lifetime');
  }
  if (exp - iat > max) return fail('lifetime_too_long', `the token lifetime is ${exp - iat}s, above ${max}s`);
  return undefined;
};

const step =
  (check: ClaimCheck): Step<ClaimContext> =>
  (c) =>
    check(c.payload, c.issuer, c.expiry, c.now);

/** In the order the request path reports them: who issued it, for whom, then time. */
const CHECKS: readonly Step<ClaimContext>[] = [
  checkIssuer,
  checkIdentifiers,
  checkAudience,
  checkExp,
  checkNbf,
  checkIat,
  checkAge,
  checkLifetime,
].map(step);

/** The policy's issuer for `payload.iss`, by exact match. */
export function issuerOf(payload: JWTPayload, policy: CompiledPolicy): CompiledIssuer | undefined {
  return typeof payload.iss === 'string' ? policy.issuers.get(payload.iss) : undefined;
}

/**
 * The claim chain: the first failed check (`every` undefined), or every failed check pushed
 * into `every` (the first one returned). Hot path: allocates on failure only.
 */
export function claimFailures(
  payload: JWTPayload,
  policy: CompiledPolicy,
  nowSeconds: number,
  every?: ClaimFailure[],
): ClaimFailure | undefined {
  const ctx: ClaimContext = {
    payload,
    issuer: issuerOf(payload, policy),
    expiry: policy.expiry,
    now: nowSeconds,
  };
  return runChain(CHECKS, ctx, every);
}
