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
  'revoked',
  'reused',
  'insufficient_scope',
  'missing_claim',
  'denied_by_rule',
] as const;

export type DenyReason = (typeof DENY_REASONS)[number];

/** `ok`: a verified token was accepted; `public`: an Allow rule let the request through without one. */
export type AllowReason = 'ok' | 'public';

/**
 * Answers the sidecar gives without a policy decision (src/proxy/respond.ts writes them all),
 * counted as `deny` with one of these reasons: nothing reached the app.
 *  - no_policy: no policy is enforced yet (503; never fail open);
 *  - malformed_http: the HTTP parser refused the request (400, raw socket);
 *  - header_too_large: the request head is over the limit (431, raw socket);
 *  - upgrade_refused: a protocol upgrade (WebSocket) is not proxied (501, raw socket);
 *  - internal_error: an exception while deciding (500; never forwarded).
 */
export const REFUSAL_REASONS = [
  'no_policy',
  'malformed_http',
  'header_too_large',
  'upgrade_refused',
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
