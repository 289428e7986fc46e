/**
 * Authenticator (Envoy's role name): is this token genuine and valid for this policy, now?
 * Cheap local checks run before any key lookup, so garbage never costs a fetch or an RSA verify:
 *
 *   decode → alg asymmetric → issuer known → alg allowed for the issuer → key by kid →
 *   signature → claims
 *
 * An alg that does not fit the key the kid names (an RS256 header on an EC key) is
 * `bad_signature`, not `alg_not_allowed`: the alg passed the allow-list, and the token claims a
 * signature its key cannot have made (see src/keys/types.ts).
 *
 * Descriptions go to logs and the CLI. None quotes the token; values from it (alg, kid) appear
 * only when they are one of a known set or a plain identifier.
 */
import type { JWTPayload } from 'jose';
import type { KeyResolver } from '../keys/types.js';
import { ALGORITHMS, type Algorithm, type CompiledIssuer, type CompiledPolicy } from '../policy/types.js';
import { record } from '../core/chain.js';
import { claimFailures, issuerOf, unknownIssuer, type ClaimFailure } from './claims.js';
import { decodeToken, MAX_TOKEN_LENGTH, type Decoded, type TokenHeader } from './decode.js';
import { fingerprint as fingerprintOf, FINGERPRINT_LENGTH, signedPartSha256 } from './hash.js';
import type { DenyReason } from '../core/reasons.js';
import { signatureValid } from './signature.js';

export interface Verified {
  readonly ok: true;
  readonly claims: JWTPayload;
  readonly header: TokenHeader;
  /** SHA-256 of the signed part: what revocations and the reuse counter match on. */
  readonly tokenSha256: string;
  readonly fingerprint: string;
  readonly exp?: number;
  /**
   * Epoch seconds from which a claim check could fail with time alone (exp, or iat plus the
   * maximum age): a cache must not answer for this token from then on. Undefined: never.
   */
  readonly cacheUntil?: number;
}

export interface Refused {
  readonly ok: false;
  readonly reason: DenyReason;
  readonly description: string;
  readonly fingerprint?: string;
  /** UNVERIFIED claims, for logging sub / jti / iss only; never for a decision. */
  readonly claims?: JWTPayload;
}

export type VerifyResult = Verified | Refused;

export interface Explanation {
  /** Every failed check; empty when the token is accepted. */
  readonly reasons: ClaimFailure[];
  /** Unverified unless `reasons` is empty. */
  readonly claims?: JWTPayload;
  readonly header?: TokenHeader;
  readonly fingerprint?: string;
}

/** The algs a description may name; anything else from a header is not echoed. */
const NAMEABLE = new Set<string>([...ALGORITHMS, 'none', 'HS256', 'HS384', 'HS512']);
const ASYMMETRIC: ReadonlySet<string> = new Set(ALGORITHMS);

function algFailure(alg: string, issuer: CompiledIssuer | undefined): ClaimFailure | undefined {
  const named = NAMEABLE.has(alg) ? `alg ${alg}` : 'the token alg';
  if (!ASYMMETRIC.has(alg)) return { reason: 'alg_not_allowed', description: `${named} is never accepted` };
  if (issuer !== undefined && !issuer.algorithms.has(alg as Algorithm)) {
    const allowed = [...issuer.algorithms].join(', ');
    return {
      reason: 'alg_not_allowed',
      description: `${named} is not allowed for this issuer (allowed: ${allowed})`,
    };
  }
  return undefined;
}

export class TokenVerifier {
  constructor(private readonly keys: KeyResolver) {}

  /** The first failed check, or the verified token (the request path). */
  async verify(token: string, policy: CompiledPolicy, nowSeconds: number): Promise<VerifyResult> {
    const run = await this.run(token, policy, nowSeconds, undefined);
    if (run.decoded === undefined) {
      // Fingerprint what the size cap lets us hash: enough to find a malformed token in logs.
      const fp = token.length <= MAX_TOKEN_LENGTH ? fingerprintOf(token) : undefined;
      return { ok: false, ...(run.failure as ClaimFailure), fingerprint: fp };
    }
    const { header, payload } = run.decoded;
    const fingerprint = run.tokenSha256.slice(0, FINGERPRINT_LENGTH);
    if (run.failure !== undefined) return { ok: false, ...run.failure, fingerprint, claims: payload };
    const exp = typeof payload.exp === 'number' ? payload.exp : undefined;
    return {
      ok: true,
      claims: payload,
      header,
      tokenSha256: run.tokenSha256,
      fingerprint,
      exp,
      cacheUntil: cacheUntil(payload, policy),
    };
  }

  /** Every failed check, signature and claims alike, for `tokenwarden check`. */
  async explain(token: string, policy: CompiledPolicy, nowSeconds: number): Promise<Explanation> {
    const reasons: ClaimFailure[] = [];
    const run = await this.run(token, policy, nowSeconds, reasons);
    if (run.decoded === undefined) return { reasons };
    const { header, payload } = run.decoded;
    return { reasons, claims: payload, header, fingerprint: fingerprintOf(token) };
  }

  /**
   * The one pipeline, in either mode (src/core/chain.ts): `every` undefined stops at the first
   * failure; an array collects every failure. A token that does not decode stops both modes.
   * Order: alg never acceptable → issuer unknown → alg not for this issuer → signature → claims.
   */
  private async run(
    token: string,
    policy: CompiledPolicy,
    nowSeconds: number,
    every: ClaimFailure[] | undefined,
  ): Promise<{ decoded?: Decoded; tokenSha256: string; failure?: ClaimFailure }> {
    const decoded = decodeToken(token);
    if (!decoded.ok) {
      const failure: ClaimFailure = { reason: decoded.reason, description: decoded.description };
      every?.push(failure);
      return { tokenSha256: '', failure };
    }
    const { header, payload } = decoded.value;
    const tokenSha256 = signedPartSha256(token);
    let first: ClaimFailure | undefined;
    const failed = (f: ClaimFailure): boolean => {
      first ??= f;
      return record(f, every);
    };
    const done = (): { decoded: Decoded; tokenSha256: string; failure?: ClaimFailure } =>
      first === undefined
        ? { decoded: decoded.value, tokenSha256 }
        : { decoded: decoded.value, tokenSha256, failure: first };

    const never = algFailure(header.alg, undefined);
    if (never !== undefined && failed(never)) return done();
    const issuer = issuerOf(payload, policy);
    // An unknown issuer is reported by the claim chain's first step in every-failure mode.
    if (issuer === undefined && every === undefined) {
      failed(unknownIssuer(payload));
      return done();
    }
    if (never === undefined && issuer !== undefined) {
      const alg = algFailure(header.alg, issuer);
      if (alg !== undefined && failed(alg)) return done();
    }
    // The signature can be checked whenever there is a key source and an alg that is not
    // none/HS*, even one this issuer does not allow: "also, the signature is bad" helps.
    if (issuer !== undefined && ASYMMETRIC.has(header.alg)) {
      const signature = await this.checkSignature(token, decoded.value, issuer);
      if (signature !== undefined && failed(signature)) return done();
    }
    const claims = claimFailures(payload, policy, nowSeconds, every);
    if (claims !== undefined) first ??= claims;
    return done();
  }

  /** Key lookup then signature; undefined when the signature is genuine. */
  private async checkSignature(
    token: string,
    d: Decoded,
    issuer: CompiledIssuer,
  ): Promise<ClaimFailure | undefined> {
    const alg = d.header.alg as Algorithm; // callers checked it is in ALGORITHMS
    const key = await this.keys.resolve(issuer.issuer, d.header.kid, alg);
    if (!key.ok) return { reason: key.reason, description: key.description };
    // The alg is the one checked against the allow-list and the one the key was imported for:
    // the header cannot re-negotiate it between the check and the verification.
    const signature = token.slice(d.signedPart.length + 1);
    return signatureValid(alg, d.signedPart, signature, key.key) ? undefined : BAD_SIGNATURE;
  }
}

const BAD_SIGNATURE: ClaimFailure = { reason: 'bad_signature', description: 'the signature does not verify' };

/** See Verified.cacheUntil: the earlier of exp and the instant the token becomes too old. */
function cacheUntil(payload: JWTPayload, policy: CompiledPolicy): number | undefined {
  const exp = typeof payload.exp === 'number' ? payload.exp : Number.POSITIVE_INFINITY;
  const maxAge = policy.expiry.maxTokenAgeSeconds;
  const aged =
    maxAge !== undefined && typeof payload.iat === 'number' ? payload.iat + maxAge : Number.POSITIVE_INFINITY;
  const until = Math.min(exp, aged);
  return until === Number.POSITIVE_INFINITY ? undefined : until;
}
