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
  'insufficient_scope',
  'missing_claim',
  'denied_by_rule',
] as const;

export type DenyReason = (typeof DENY_REASONS)[number];

/** `ok`: a verified token was accepted; `public`: an Allow rule let the request through without one. */
export type AllowReason = 'ok' | 'public';

/**
 * Answers the sidecar gives itself below the token decision (issue 8): counted with decision
 * `deny` in every mode, Audit included, since no app could be served the request anyway.
 *   malformed_http   refused by the HTTP parser or the header checks (400, 431, 417)
 *   timeout          headers or body too slow (408)
 *   upgrade_refused  Upgrade / CONNECT: the sidecar tunnels nothing (501 / 405)
 *   no_policy        no policy loaded yet (503)
 *   connection_limit too many connections from one client address (503)
 *   upstream_busy    no upstream connection free within the wait bound (503)
 *   upstream_error   the app could not be reached (502)
 */
export const PROTOCOL_REASONS = [
  'malformed_http',
  'timeout',
  'upgrade_refused',
  'no_policy',
  'connection_limit',
  'upstream_busy',
  'upstream_error',
] as const;

export type ProtocolReason = (typeof PROTOCOL_REASONS)[number];

export type Reason = DenyReason | AllowReason | ProtocolReason;

export const ALL_REASONS: readonly Reason[] = [...DENY_REASONS, 'ok', 'public', ...PROTOCOL_REASONS];

/** Decision label of `tokenwarden_requests_total`. */
export type DecisionLabel = 'allow' | 'deny' | 'audit_deny';

/** Outcome of one check: a value, never an exception. */
export type Check<T> = { ok: true; value: T } | { ok: false; reason: DenyReason; description: string };

/** Outcome of one fetch of a key source, as the `result` label of tokenwarden_jwks_refresh_total. */
export type RefreshResult = 'success' | 'failure' | 'not_modified';
