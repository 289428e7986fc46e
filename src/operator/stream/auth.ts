/**
 * Who is calling: a TokenReview of the sidecar's projected ServiceAccount token, for audience
 * `tokenwarden`, and the pod it is bound to (the `authentication.kubernetes.io/pod-name` and
 * `pod-uid` extras the API server adds for pod-bound tokens). The namespace comes from the
 * ServiceAccount username, which the token's signature covers: a token stolen from another
 * namespace names that namespace, never ours. What the pod may see is decided by the caller.
 */
import type { V1TokenReview } from '@kubernetes/client-node';
import { TOKEN_AUDIENCE, type StreamRefusalReason } from '../../distribution/protocol.js';
import type { PodRef } from './sessions.js';

export const POD_NAME_EXTRA = 'authentication.kubernetes.io/pod-name';
export const POD_UID_EXTRA = 'authentication.kubernetes.io/pod-uid';
const SA_PREFIX = 'system:serviceaccount:';

export type Authenticated =
  | { readonly ok: true; readonly pod: PodRef; readonly serviceAccount: string }
  | {
      readonly ok: false;
      readonly status: number;
      readonly reason: StreamRefusalReason;
      readonly message: string;
    };

/** The bearer token of an Authorization header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  const m = /^Bearer[ ]+([A-Za-z0-9._~+/=-]+)\s*$/i.exec(header ?? '');
  return m?.[1];
}

/** `system:serviceaccount:NS:NAME` → [NS, NAME], or undefined for any other user name. */
export function serviceAccountOf(username: unknown): readonly [string, string] | undefined {
  if (typeof username !== 'string' || !username.startsWith(SA_PREFIX)) return undefined;
  const parts = username.slice(SA_PREFIX.length).split(':');
  const [namespace, name] = parts;
  return parts.length === 2 && namespace && name ? [namespace, name] : undefined;
}

/** Reads a TokenReview answer. Pure. */
export function podFromReview(review: V1TokenReview): Authenticated {
  const st = review.status;
  if (st?.authenticated !== true)
    return {
      ok: false,
      status: 401,
      reason: 'token_invalid',
      message: `token refused by the API server${st?.error ? `: ${st.error}` : ''}`,
    };
  if (!(st.audiences ?? []).includes(TOKEN_AUDIENCE))
    return {
      ok: false,
      status: 401,
      reason: 'token_invalid',
      message: `token is not for audience ${TOKEN_AUDIENCE}`,
    };
  const username = st.user?.username ?? '';
  const extra = st.user?.extra ?? {};
  const name = extra[POD_NAME_EXTRA]?.[0];
  const uid = extra[POD_UID_EXTRA]?.[0];
  const sa = serviceAccountOf(username);
  if (name === undefined || uid === undefined || sa === undefined)
    return {
      ok: false,
      status: 403,
      reason: 'not_a_pod_token',
      message: 'token is not a pod-bound ServiceAccount token (use a projected serviceAccountToken volume)',
    };
  return { ok: true, pod: { namespace: sa[0], name, uid }, serviceAccount: sa[1] };
}
