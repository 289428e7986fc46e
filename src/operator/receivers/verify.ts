/**
 * Verification of a pushed logout token or SET, cheap checks first (the order of
 * src/token/verify.ts): decode → issuer has a receiver → typ → alg allowed → key by kid →
 * signature (node:crypto, src/token/signature.ts) → aud → iat window (and exp, if any) → jti →
 * what the event asks (events.ts). The keys are the ones the operator already holds for the
 * policy (src/operator/policy/keys.ts); nothing in the token chooses where a key comes from.
 *
 * `typ`: a logout token may be untyped, `JWT` (as some providers send it) or `logout+jwt`
 * (Back-Channel Logout 1.0 §2.4); a SET must be `secevent+jwt` (RFC 8417 §2.3, required by the
 * Shared Signals Framework). Anything else is refused, so an access token, an ID token or one
 * kind of event cannot be passed off as another.
 *
 * Replay (`jti` seen before) is asked by the caller after this succeeds: only a verified token
 * may take a place in the bounded replay memory.
 */
import type { JWTPayload } from 'jose';
import type { KeyResolution, KeyResolver } from '../../keys/types.js';
import type { ReceiverKind } from '../../metrics/operator.js';
import { typeKey } from '../../policy/compile.js';
import { ALGORITHMS, type Algorithm, type CompiledIssuer, type CompiledPolicy } from '../../policy/types.js';
import { decodeToken } from '../../token/decode.js';
import { signatureValid } from '../../token/signature.js';
import { logoutIntent, refuse, setIntent, type Intent, type Refused } from './events.js';

export interface VerifyOptions {
  readonly receiver: ReceiverKind;
  readonly policy: CompiledPolicy;
  /** The keys this replica holds for the policy's issuer; undefined: not reconciled yet. */
  readonly keys: (issuer: string) => KeyResolver | undefined;
  readonly nowSeconds: number;
  /** Oldest `iat` accepted, in seconds before now (plus the policy's clock skew). */
  readonly maxAgeSeconds: number;
}

export interface VerifiedEvent {
  readonly ok: true;
  readonly issuer: CompiledIssuer;
  readonly jti: string;
  readonly iat: number;
  readonly intent: Intent;
}

export type EventVerification = VerifiedEvent | Refused;

const LOGOUT_TYPES = new Set(['jwt', 'logout+jwt']);
const SET_TYPE = 'secevent+jwt';

function typProblem(receiver: ReceiverKind, typ: unknown): string | undefined {
  if (receiver === 'backchannel_logout') {
    if (typ === undefined || (typeof typ === 'string' && LOGOUT_TYPES.has(typeKey(typ)))) return undefined;
    return 'a logout token is typed logout+jwt (or JWT, or not at all)';
  }
  if (typeof typ === 'string' && typeKey(typ) === SET_TYPE) return undefined;
  return 'a Security Event Token must be typed secevent+jwt';
}

function audienceHas(aud: unknown, want: string): boolean {
  if (typeof aud === 'string') return aud === want;
  return Array.isArray(aud) && aud.some((a) => a === want);
}

/** iat present and within [now − maxAge − skew, now + skew]; exp, when present, not passed. */
function timeProblem(claims: JWTPayload, o: VerifyOptions): string | undefined {
  const skew = o.policy.expiry.clockSkewSeconds;
  const { iat, exp } = claims;
  if (typeof iat !== 'number' || !Number.isFinite(iat)) return 'the iat claim is missing or not a number';
  if (iat > o.nowSeconds + skew) return 'the token was issued in the future';
  if (iat < o.nowSeconds - o.maxAgeSeconds - skew)
    return `the token was issued more than ${o.maxAgeSeconds}s ago`;
  if (exp !== undefined && (typeof exp !== 'number' || o.nowSeconds >= exp + skew))
    return 'the token has expired';
  return undefined;
}

function keyOf(o: VerifyOptions, issuer: string, kid: string | undefined, alg: Algorithm) {
  const resolver = o.keys(issuer);
  if (resolver === undefined) return undefined;
  return resolver.resolve(issuer, kid, alg);
}

export async function verifyEvent(token: string, o: VerifyOptions): Promise<EventVerification> {
  const decoded = decodeToken(token);
  if (!decoded.ok) return refuse('malformed', decoded.description);
  const { header, payload, signedPart } = decoded.value;
  const issuer = typeof payload.iss === 'string' ? o.policy.issuers.get(payload.iss) : undefined;
  const receiver = issuer?.receiver;
  if (issuer === undefined || receiver === undefined) {
    return refuse('unknown_issuer', 'the issuer is not one this policy receives events from');
  }
  const typ = typProblem(o.receiver, header.typ);
  if (typ !== undefined) return refuse('wrong_type', typ);
  const alg = header.alg as Algorithm;
  if (!(ALGORITHMS as readonly string[]).includes(alg) || !issuer.algorithms.has(alg)) {
    return refuse('bad_signature', 'the algorithm is not one the policy allows for this issuer');
  }
  const pending = keyOf(o, issuer.issuer, header.kid, alg);
  if (pending === undefined) return refuse('not_ready', 'the issuer keys are not loaded on this replica yet');
  const key: KeyResolution = await pending;
  if (!key.ok) return refuse(key.reason, key.description);
  if (!signatureValid(alg, signedPart, token.slice(signedPart.length + 1), key.key)) {
    return refuse('bad_signature', 'the signature does not verify with the issuer key');
  }
  if (!audienceHas(payload.aud, receiver.audience)) {
    return refuse('wrong_audience', 'the aud claim does not name this receiver audience');
  }
  const time = timeProblem(payload, o);
  if (time !== undefined) return refuse('stale', time);
  const jti = payload.jti;
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > 256) {
    return refuse('malformed', 'the jti claim is missing or not a string of at most 256 characters');
  }
  const iat = payload.iat as number;
  const intent =
    o.receiver === 'backchannel_logout'
      ? logoutIntent(payload, receiver, iat)
      : setIntent(payload, receiver, iat);
  if (!intent.ok) return intent;
  return { ok: true, issuer, jti, iat, intent: intent.intent };
}
