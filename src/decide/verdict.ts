/**
 * The Decision a request ends in (decision.ts), built in one place: a request refused as
 * malformed, a public forward, a verified token allowed, and a refusal, which Audit mode turns
 * into a forward counted as audit_deny. Every one carries the policy and generation it was
 * made under and the resolved path; forwards carry the target the app receives.
 */
import type { JWTPayload } from 'jose';
import { forwardedHeaders } from '../policy/evaluate.js';
import type { CompiledPolicy } from '../policy/types.js';
import type { Verified } from '../token/verify.js';
import type { Decision, Forward, Reject, TokenInfo } from './decision.js';
import type { ResolvedRequest } from './request.js';
import type { Enforcement } from './state.js';
import type { DecisionFailure } from './steps.js';

const NO_HEADERS: readonly (readonly [string, string])[] = [];

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function headerOptions(p: CompiledPolicy): Pick<Forward, 'allowUnderscores' | 'trustedProxies'> {
  return { allowUnderscores: p.allowUnderscoreHeaders === true, trustedProxies: p.trustedProxies };
}

/** Identity of a token for logs (never the token); claims may be unverified. */
export function tokenInfo(fingerprint: string, claims: JWTPayload | undefined): TokenInfo {
  return { fingerprint, sub: str(claims?.sub), jti: str(claims?.jti), iss: str(claims?.iss) };
}

/** The request itself cannot be trusted: malformed (400) in every mode, policy loaded or not. */
export function refusedRequest(
  active: Enforcement | undefined,
  request: ResolvedRequest,
  problem: string,
): Reject {
  return {
    kind: 'reject',
    stage: 'request',
    reason: 'malformed',
    description: problem,
    policy: active?.policy.name ?? '',
    generation: active?.generation ?? 0,
    rule: undefined,
    path: request.path,
    token: undefined,
    ...(active?.policy.mode === 'Audit' ? { enforcedInAudit: true as const } : {}),
  };
}

/** An Allow rule: forwarded without looking at any token. */
export function publicForward(active: Enforcement, request: ResolvedRequest, rule: string): Forward {
  return {
    kind: 'forward',
    decision: 'allow',
    reason: 'public',
    policy: active.policy.name,
    generation: active.generation,
    rule,
    path: request.path,
    target: request.target,
    strip: active.strippedHeaders,
    headers: NO_HEADERS,
    keepToken: false,
    ...headerOptions(active.policy),
    token: undefined,
  };
}

/** The decision for a verified token, given the first failure of the checks after it. */
export function verdict(
  active: Enforcement,
  request: ResolvedRequest,
  v: Verified,
  failure: DecisionFailure | undefined,
): Decision {
  const claims = v.claims;
  const info = tokenInfo(v.fingerprint, claims);
  if (failure !== undefined) {
    const r = deniedOrAudited(active, failure, request, info);
    if (r.kind === 'reject' && failure.scope !== undefined) r.scope = failure.scope;
    return r;
  }
  const policy = active.policy;
  return {
    kind: 'forward',
    decision: 'allow',
    reason: 'ok',
    policy: policy.name,
    generation: active.generation,
    rule: request.rule?.name,
    path: request.path,
    target: request.target,
    strip: active.strippedHeaders,
    headers: policy.forwardClaims.length === 0 ? NO_HEADERS : forwardedHeaders(policy, claims),
    keepToken: policy.forwardToken === true,
    ...headerOptions(policy),
    token: info,
    exp: v.exp,
    iat: typeof claims.iat === 'number' ? claims.iat : undefined,
  };
}

/** Enforce: a refusal. Audit: the same verdict, forwarded and counted as audit_deny. */
export function deniedOrAudited(
  active: Enforcement,
  f: Pick<DecisionFailure, 'stage' | 'reason' | 'description'>,
  request: ResolvedRequest,
  token: TokenInfo | undefined,
): Reject | Forward {
  const policy = active.policy;
  const rule = request.rule?.name;
  if (policy.mode === 'Audit') {
    return {
      kind: 'forward',
      decision: 'audit_deny',
      reason: f.reason,
      description: f.description,
      policy: policy.name,
      generation: active.generation,
      rule,
      path: request.path,
      target: request.target,
      strip: active.strippedHeaders,
      headers: NO_HEADERS,
      keepToken: false,
      ...headerOptions(policy),
      token,
    };
  }
  return {
    kind: 'reject',
    stage: f.stage,
    reason: f.reason,
    description: f.description,
    policy: policy.name,
    generation: active.generation,
    rule,
    path: request.path,
    token,
  };
}
