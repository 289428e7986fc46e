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
import type { KeyResolution, KeyResolver } from '../keys/types.js';
import { typeKey } from '../policy/compile.js';
import { ALGORITHMS, type Algorithm, type CompiledIssuer, type CompiledPolicy } from '../policy/types.js';
import { runChain, type AsyncStep } from '../core/chain.js';
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
  /**
   * Bytes of the header and payload JSON as received (from their base64url lengths): sizes a
   * cache entry (cache.ts `entryBytes`) without serialising the claims again.
   */
  readonly jsonBytes?: number;
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

/** What `run` found: the decoded token, its hash, and the chain's first failure. */
interface Run {
  decoded?: Decoded;
  tokenSha256: string;
  failure?: ClaimFailure;
}

/** One verification, as the chain's steps see it. */
interface Verification {
  readonly token: string;
  readonly decoded: Decoded;
  readonly policy: CompiledPolicy;
  readonly issuer: CompiledIssuer | undefined;
  readonly keys: KeyResolver;
  readonly now: number;
}

/**
 * The chain (src/core/chain.ts), cheap checks first: alg never acceptable → issuer unknown →
 * alg not for this issuer → typ → signature → claims. An unknown issuer stops the request path
 * before any key lookup; in every-failure mode the claim chain's first step reports it.
 */
const STEPS: readonly AsyncStep<Verification, ClaimFailure>[] = [
  (c) => algFailure(c.decoded.header.alg, undefined),
  (c, every) =>
    every === undefined && c.issuer === undefined ? unknownIssuer(c.decoded.payload) : undefined,
  (c) =>
    c.issuer !== undefined && ASYMMETRIC.has(c.decoded.header.alg)
      ? algFailure(c.decoded.header.alg, c.issuer)
      : undefined,
  (c) => (c.issuer !== undefined ? typeFailure(c.decoded.header, c.issuer) : undefined),
  signatureStep,
  (c, every) => claimFailures(c.decoded.payload, c.policy, c.now, every),
];

/**
 * The signature can be checked whenever there is a key source and an alg that is not
 * none/HS*, even one this issuer does not allow: "also, the signature is bad" helps. A promise
 * only while the key layer must load keys.
 */
function signatureStep(c: Verification): ClaimFailure | undefined | Promise<ClaimFailure | undefined> {
  const alg = c.decoded.header.alg;
  if (c.issuer === undefined || !ASYMMETRIC.has(alg)) return undefined;
  const key = c.keys.resolve(c.issuer.issuer, c.decoded.header.kid, alg as Algorithm);
  if (key instanceof Promise) return key.then((k) => signatureFailure(c, alg as Algorithm, k));
  return signatureFailure(c, alg as Algorithm, key);
}

function signatureFailure(c: Verification, alg: Algorithm, key: KeyResolution): ClaimFailure | undefined {
  if (!key.ok) return { reason: key.reason, description: key.description };
  // The alg is the one checked against the allow-list and the one the key was chosen for:
  // the header cannot re-negotiate it between the check and the verification.
  const signedPart = c.decoded.signedPart;
  return signatureValid(alg, signedPart, c.token.slice(signedPart.length + 1), key.key)
    ? undefined
    : BAD_SIGNATURE;
}

export class TokenVerifier {
  constructor(private readonly keys: KeyResolver) {}

  /**
   * The first failed check, or the verified token (the request path). A plain value whenever
   * the key was at hand (the key layer answered without waiting): a cache miss then costs no
   * promise and no tick; a promise only while a key set is being loaded.
   */
  verify(token: string, policy: CompiledPolicy, nowSeconds: number): VerifyResult | Promise<VerifyResult> {
    const run = this.run(token, policy, nowSeconds, undefined);
    return run instanceof Promise ? run.then((r) => result(token, policy, r)) : result(token, policy, run);
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
   * The steps are STEPS above. Synchronous up to the key lookup, and after it too when the key
   * layer answers at once.
   */
  private run(
    token: string,
    policy: CompiledPolicy,
    nowSeconds: number,
    every: ClaimFailure[] | undefined,
  ): Run | Promise<Run> {
    const decoded = decodeToken(token);
    if (!decoded.ok) {
      const failure: ClaimFailure = { reason: decoded.reason, description: decoded.description };
      every?.push(failure);
      return { tokenSha256: '', failure };
    }
    const v = decoded.value;
    const tokenSha256 = signedPartSha256(token);
    const c: Verification = {
      token,
      decoded: v,
      policy,
      issuer: issuerOf(v.payload, policy),
      keys: this.keys,
      now: nowSeconds,
    };
    const first = runChain(STEPS, c, every);
    if (first instanceof Promise) return first.then((f) => ran(v, tokenSha256, f));
    return ran(v, tokenSha256, first);
  }
}

function ran(decoded: Decoded, tokenSha256: string, failure: ClaimFailure | undefined): Run {
  return failure === undefined ? { decoded, tokenSha256 } : { decoded, tokenSha256, failure };
}

function result(token: string, policy: CompiledPolicy, run: Run): VerifyResult {
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
    jsonBytes: jsonBytes(run.decoded.signedPart),
  };
}

/** Decoded bytes of `header.payload` (base64url: 3 bytes per 4 characters, each part apart). */
function jsonBytes(signedPart: string): number {
  const dot = signedPart.indexOf('.');
  return Math.floor((dot * 3) / 4) + Math.floor(((signedPart.length - dot - 1) * 3) / 4);
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
