/**
 * What the engine decides for one request. Plain data: the proxy turns it into bytes
 * (src/proxy/challenge.ts for refusals, src/proxy/forward.ts for the rest).
 */
import type { TrustedProxies } from '../policy/cidr.js';
import type { DenyReason, Reason } from '../core/reasons.js';

/** Identity of a token for logs: never the token itself. */
export interface TokenInfo {
  fingerprint: string;
  sub?: string | undefined;
  jti?: string | undefined;
  iss?: string | undefined;
}

/** Where a refusal was found: request-level problems answer 400, token problems 401. */
export type Stage = 'request' | 'token' | 'rule' | 'config';

/** The configuration a decision was made under: metrics and logs label with this, never re-read it. */
export interface DecidedUnder {
  /** Name of the enforced policy. */
  policy: string;
  /** EnforcementState generation of the snapshot the decision read. */
  generation: number;
}

export interface Forward extends DecidedUnder {
  kind: 'forward';
  /** The normalised path (src/decide/request.ts), for logs. */
  path: string;
  /** What the app receives: the normalised path plus the original query. */
  target: string;
  decision: 'allow' | 'audit_deny';
  reason: Reason;
  /** For audit_deny: why it would have been refused. */
  description?: string;
  rule: string | undefined;
  /**
   * Lower-case names of the headers only the sidecar may set (forwardClaims of the config this
   * decision was made with): removed from what the client sent, on every path.
   */
  strip: ReadonlySet<string>;
  /** Lower-case header → value, set from verified claims. */
  headers: readonly (readonly [string, string])[];
  /**
   * Forward the client's Bearer Authorization: only a verified token under `forwardToken`.
   * Otherwise the app never receives a bearer token (an Allow path, an audited refusal).
   */
  keepToken: boolean;
  /** The compiled policy's header options (`http.allowUnderscoreHeaders`, `trustedProxies`). */
  allowUnderscores: boolean;
  trustedProxies: TrustedProxies | undefined;
  token: TokenInfo | undefined;
  /** Accepted tokens only, for the lifetime histograms. */
  exp?: number | undefined;
  iat?: number | undefined;
}

export interface Reject extends DecidedUnder {
  kind: 'reject';
  /** The normalised path, or the raw one when the request itself was refused; for logs. */
  path: string;
  stage: Stage;
  reason: DenyReason;
  /** Detail for logs and the CLI; the client gets a generic text. */
  description: string;
  rule: string | undefined;
  /** insufficient_scope: the scopes the rule requires. */
  scope?: string | undefined;
  token: TokenInfo | undefined;
  /** A refusal of the request itself under an Audit policy: enforced in every mode. */
  enforcedInAudit?: true;
}

/** No policy enforced yet: protected paths answer 503 (never fail open). */
export interface Unavailable {
  kind: 'unavailable';
  description: string;
}

export type Decision = Forward | Reject | Unavailable;
