/**
 * Authenticator (Envoy's role name): is this token genuine and valid for this policy, now?
 * Cheap local checks run before any key lookup, so garbage never costs a fetch or an RSA verify:
 *
 *   decode → alg asymmetric → issuer known → alg allowed for the issuer → typ expected →
 *   key by kid → signature → claims
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
import { typeKey } from '../policy/compile.js';
import { ALGORITHMS, type Algorithm, type CompiledIssuer, type CompiledPolicy } from '../policy/types.js';
import { checkClaims, explainClaims, issuerOf, unknownIssuer, type ClaimFailure } from './claims.js';
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

/**
 * RFC 8725 §3.11 explicit typing: with `expectedTypes`, the header's `typ` must be one of them
 * (an ID token, `typ: id+jwt` or no typ at all, is then not an access token). Checked before
 * the key lookup: it costs a string comparison.
 */
function typeFailure(header: TokenHeader, issuer: CompiledIssuer): ClaimFailure | undefined {
  const expected = issuer.expectedTypes;
  if (expected === undefined) return undefined;
  const typ: unknown = header.typ;
  if (typ === undefined) {
    return {
      reason: 'wrong_type',
      description: `the token has no typ header; expected ${[...expected].join(', ')}`,
    };
  }
  if (typeof typ !== 'string')
    return { reason: 'malformed', description: 'the token typ header is not a string' };
  if (expected.has(typeKey(typ))) return undefined;
  return { reason: 'wrong_type', description: `the token typ is not one of: ${[...expected].join(', ')}` };
}

export class TokenVerifier {
  constructor(private readonly keys: KeyResolver) {}

  async verify(token: string, policy: CompiledPolicy, nowSeconds: number): Promise<VerifyResult> {
    const decoded = decodeToken(token);
    if (!decoded.ok) {
      // Fingerprint what the size cap lets us hash: enough to find a malformed token in logs.
      const fp = token.length <= MAX_TOKEN_LENGTH ? fingerprintOf(token) : undefined;
      return { ok: false, reason: decoded.reason, description: decoded.description, fingerprint: fp };
    }
    const { header, payload } = decoded.value;
    const tokenSha256 = signedPartSha256(token);
    const fingerprint = tokenSha256.slice(0, FINGERPRINT_LENGTH);
    const refuse = (f: ClaimFailure): Refused => ({ ok: false, ...f, fingerprint, claims: payload });

    // The order of the pipeline: alg never acceptable → issuer unknown → alg not for this issuer.
    const never = algFailure(header.alg, undefined);
    if (never !== undefined) return refuse(never);
    const issuer = issuerOf(payload, policy);
    if (issuer === undefined) return refuse(unknownIssuer(payload));
    const alg = algFailure(header.alg, issuer);
    if (alg !== undefined) return refuse(alg);
    const typ = typeFailure(header, issuer);
    if (typ !== undefined) return refuse(typ);

    const signature = await this.checkSignature(token, decoded.value, issuer);
    if (signature !== undefined) return refuse(signature);
    const claims = checkClaims(payload, policy, nowSeconds);
    if (claims !== undefined) return refuse(claims);

    const exp = typeof payload.exp === 'number' ? payload.exp : undefined;
    return {
      ok: true,
      claims: payload,
      header,
      tokenSha256,
      fingerprint,
      exp,
      cacheUntil: cacheUntil(payload, policy),
    };
  }

  /** Every failed check, signature and claims alike, for `tokenwarden check`. */
  async explain(token: string, policy: CompiledPolicy, nowSeconds: number): Promise<Explanation> {
    const decoded = decodeToken(token);
    if (!decoded.ok) return { reasons: [{ reason: decoded.reason, description: decoded.description }] };
    const { header, payload } = decoded.value;
    const issuer = issuerOf(payload, policy);
    const reasons: ClaimFailure[] = [];
    const alg = algFailure(header.alg, issuer);
    if (alg !== undefined) reasons.push(alg);
    const typ = issuer === undefined ? undefined : typeFailure(header, issuer);
    if (typ !== undefined) reasons.push(typ);
    // The signature can be checked whenever there is a key source and an alg that is not
    // none/HS*, even one this issuer does not allow: "also, the signature is bad" helps.
    if (issuer !== undefined && ASYMMETRIC.has(header.alg)) {
      const signature = await this.checkSignature(token, decoded.value, issuer);
      if (signature !== undefined) reasons.push(signature);
    }
    reasons.push(...explainClaims(payload, policy, nowSeconds));
    return { reasons, claims: payload, header, fingerprint: fingerprintOf(token) };
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
