/**
 * The one closed set of decision reasons. Reused unchanged as the `reason` metric label, the
 * `reason` log field and the Event reason, so a value seen on a dashboard can be grepped here.
 */
export const DENY_REASONS = [
  'missing',
  'malformed',
  'bad_signature',
  'unknown_key',
  'alg_not_allowed',
  'expired',
  'not_yet_valid',
  'too_old',
  'lifetime_too_long',
  'wrong_issuer',
  'wrong_audience',
  'wrong_type',
  'revoked',
  'reused',
  // The reuse store refuses to record a new token (its cap; a use is never forgotten): 401.
  'reuse_store_full',
  // The shared reuse store could not be asked (unreachable, timed out): 503, fail closed.
  'reuse_store_unavailable',
  'insufficient_scope',
  'missing_claim',
  'denied_by_rule',
] as const;

export type DenyReason = (typeof DENY_REASONS)[number];

/** `ok`: a verified token was accepted; `public`: an Allow rule let the request through without one. */
export type AllowReason = 'ok' | 'public';

/**
 * Answers the sidecar gives without a policy decision (src/proxy/respond.ts writes them all),
 * counted as `deny` with one of these reasons, in every mode (Audit included: these are
 * protocol-level refusals, no app could be served such a request). Nothing reached the app.
 *  - no_policy: no policy is enforced yet (503; never fail open);
 *  - malformed_http: the HTTP parser or the header checks refused the request (400, 417);
 *  - header_too_large: the request head, or its field count, is over the limit (431);
 *  - upgrade_refused: a protocol upgrade (WebSocket, h2c) or CONNECT: nothing is tunnelled (501, 405);
 *  - timeout: the request head or body came too slowly (408);
 *  - connection_limit: too many open connections from one client address (503, raw socket);
 *  - upstream_busy: no connection to the app became free within the wait bound (503);
 *  - client_closed: the client left after the decision and before the request was sent on
 *    (while its body was read or while it waited for an upstream connection): no answer.
 *  - internal_error: an exception while deciding (500; never forwarded).
 */
export const REFUSAL_REASONS = [
  'no_policy',
  'malformed_http',
  'header_too_large',
  'upgrade_refused',
  'timeout',
  'connection_limit',
  'upstream_busy',
  'client_closed',
  'internal_error',
] as const;

export type RefusalReason = (typeof REFUSAL_REASONS)[number];

export type Reason = DenyReason | AllowReason | RefusalReason;

export const ALL_REASONS: readonly Reason[] = [...DENY_REASONS, 'ok', 'public', ...REFUSAL_REASONS];

/** Decision label of `tokenwarden_requests_total`. */
export type DecisionLabel = 'allow' | 'deny' | 'audit_deny';

/** Outcome of one check: a value, never an exception. */
export type Check<T> = { ok: true; value: T } | { ok: false; reason: DenyReason; description: string };

/** Outcome of one fetch of a key source, as the `result` label of tokenwarden_jwks_refresh_total. */
export type RefreshResult = 'success' | 'failure' | 'not_modified';
