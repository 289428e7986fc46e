/**
 * A sidecar's projected ServiceAccount token checked here, against the keys the API server
 * publishes for its service-account issuer (issuer-keys.ts), instead of by a TokenReview: the
 * same signature and claims the API server's own authenticator checks for a bound token, at the
 * cost of one signature verification. After an outage a thousand sidecars reconnect at once,
 * and a TokenReview each was most of the catch-up time (docs/adr/0017).
 *
 * A token this function cannot decide (another issuer, a key it does not hold yet) is
 * `undecided` and goes to a TokenReview; a token it can decide is refused or accepted for good.
 * Pure: the clock and the keys are passed in.
 */
import { TOKEN_AUDIENCE } from '../../distribution/protocol.js';
import { matchKey, type KeySet } from '../../keys/jwks.js';
import { ALGORITHMS, type Algorithm } from '../../policy/types.js';
import { decodeToken } from '../../token/decode.js';
import { signatureValid } from '../../token/signature.js';
import { serviceAccountOf, type Authenticated } from './auth.js';

/** What the API server publishes: its issuer (discovery document) and its verification keys. */
export interface IssuerTrust {
  readonly issuer: string;
  readonly keys: KeySet;
}

export type Undecided = 'other_issuer' | 'unknown_key';
export type PodTokenCheck = Authenticated | { readonly ok: 'undecided'; readonly why: Undecided };

/** A token whose `nbf`/`iat` is this far ahead of our clock is still accepted (clock skew). */
export const CLOCK_SKEW_MS = 60_000;

const invalid = (message: string): Authenticated => ({
  ok: false,
  status: 401,
  reason: 'token_invalid',
  message,
});
const notPodToken: Authenticated = {
  ok: false,
  status: 403,
  reason: 'not_a_pod_token',
  message: 'token is not a pod-bound ServiceAccount token (use a projected serviceAccountToken volume)',
};

const isAlgorithm = (v: string): v is Algorithm => (ALGORITHMS as readonly string[]).includes(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const obj = (v: unknown): Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

/** Who holds `token`, if it is a pod-bound token of `trust`'s issuer; `undecided` otherwise. */
export function checkPodToken(token: string, trust: IssuerTrust, nowMs: number): PodTokenCheck {
  const decoded = decodeToken(token);
  if (!decoded.ok) return invalid(`token is not a JWT: ${decoded.description}`);
  const { header, payload, signedPart } = decoded.value;
  if (payload.iss !== trust.issuer) return { ok: 'undecided', why: 'other_issuer' };
  if (!isAlgorithm(header.alg)) return invalid(`token algorithm ${header.alg} is not accepted`);
  const match = matchKey(trust.keys, header.kid, header.alg);
  if (match.kind === 'none') return { ok: 'undecided', why: 'unknown_key' };
  if (match.kind !== 'found') return invalid('no single key of the issuer fits the token');
  if (!signatureValid(header.alg, signedPart, token.slice(signedPart.length + 1), match.entry.key))
    return invalid('token signature is not valid');
  // From here on the payload is the API server's word.
  const aud = typeof payload.aud === 'string' ? [payload.aud] : (payload.aud ?? []);
  if (!aud.includes(TOKEN_AUDIENCE)) return invalid(`token is not for audience ${TOKEN_AUDIENCE}`);
  if (typeof payload.exp !== 'number' || payload.exp * 1000 <= nowMs) return invalid('token is expired');
  if (typeof payload.nbf === 'number' && payload.nbf * 1000 > nowMs + CLOCK_SKEW_MS)
    return invalid('token is not valid yet');
  return podOf(payload.sub, obj(payload['kubernetes.io']));
}

/** The pod and ServiceAccount of a verified token's `sub` and `kubernetes.io` claims. */
function podOf(sub: unknown, k8s: Record<string, unknown>): Authenticated {
  const sa = serviceAccountOf(sub);
  const pod = obj(k8s.pod);
  const name = str(pod.name);
  const uid = str(pod.uid);
  if (
    sa === undefined ||
    name === undefined ||
    uid === undefined ||
    // The claims must agree with the subject they come with.
    k8s.namespace !== sa[0] ||
    obj(k8s.serviceaccount).name !== sa[1]
  )
    return notPodToken;
  return { ok: true, pod: { namespace: sa[0], name, uid }, serviceAccount: sa[1] };
}
