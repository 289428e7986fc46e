/**
 * The steps of a decision that the proxy (engine.ts, first failure) and `tokenwarden check`
 * (explain.ts, every failure) share, with their one wording each: the rule's own verdict, the
 * token's presence, and everything checked after the signature and claims (src/token/verify.ts
 * runs those as its own chain). Every step gets the request (src/decide/request.ts). The reuse
 * step counts a use, so only the proxy gives the chain a `reuse` counter.
 */
import type { JWTPayload } from 'jose';
import { runChain, runEach, type AsyncStep, type Failure } from '../core/chain.js';
import { unmetClaim, unmetScope, type RuleFailure } from '../policy/evaluate.js';
import type { CompiledRule } from '../policy/types.js';
import type { Stage } from './decision.js';
import type { ResolvedRequest } from './request.js';
import { reuseStep, type ReuseCounting } from './reuse-step.js';
import type { Enforcement } from './state.js';

export interface DecisionFailure extends Failure {
  readonly stage: Stage;
  /** insufficient_scope / missing_claim: the scopes the rule requires. */
  readonly scope?: string | undefined;
}

export function deniedByRule(rule: CompiledRule, method: string, path: string): DecisionFailure {
  return {
    stage: 'rule',
    reason: 'denied_by_rule',
    description: `rule ${rule.name} denies ${method} ${path}`,
  };
}

export const NO_TOKEN: DecisionFailure = Object.freeze({
  stage: 'token',
  reason: 'missing',
  description: 'no bearer token',
});

export function malformedRequest(description: string): DecisionFailure {
  return { stage: 'request', reason: 'malformed', description };
}

/** What the steps after verification read: one object per request, built by the caller. */
export interface AfterVerify {
  readonly active: Enforcement;
  readonly request: ResolvedRequest;
  /** Verified on the request path; unverified (for reporting only) in `check`. */
  readonly claims: JWTPayload;
  /** SHA-256 of the signed part. */
  readonly tokenSha256: string;
  /** The token's `exp` (Infinity without one): how long a use count must be kept. */
  readonly exp: number;
  readonly nowSeconds: number;
  /** Counts uses; undefined: do not count (`check`: a check is not a use). */
  readonly reuse: ReuseCounting | undefined;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function revoked(c: AfterVerify): DecisionFailure | undefined {
  const claims = c.claims;
  const iat = typeof claims.iat === 'number' ? claims.iat : undefined;
  const by = c.active.revocations.match({
    jti: str(claims.jti),
    tokenSha256: c.tokenSha256,
    sub: str(claims.sub),
    sid: str(claims.sid),
    iss: str(claims.iss) ?? '',
    iat,
  });
  return by === undefined
    ? undefined
    : { stage: 'token', reason: 'revoked', description: `revoked by TokenRevocation ${by}` };
}

const NO_JTI: DecisionFailure = Object.freeze({
  stage: 'token',
  reason: 'malformed',
  description: 'reuse.maxUses is set and the token has no jti',
});

function jtiRequired(c: AfterVerify): DecisionFailure | undefined {
  return c.active.policy.maxUses > 0 && str(c.claims.jti) === undefined ? NO_JTI : undefined;
}

function asDecision(r: RuleFailure | undefined): DecisionFailure | undefined {
  return r === undefined
    ? undefined
    : { stage: 'rule', reason: r.reason, description: r.description, scope: r.scope };
}

/** The matched rule when it is an Authenticate rule (whose requirements apply), else undefined. */
function authenticating(c: AfterVerify): CompiledRule | undefined {
  const rule = c.request.rule;
  return rule?.action === 'Authenticate' ? rule : undefined;
}

// Only called with an Authenticate rule (see requiredScopes, requiredClaims).
const scopeStep = (scope: string, c: AfterVerify): DecisionFailure | undefined =>
  asDecision(unmetScope(c.request.rule as CompiledRule, c.claims, scope));
const claimStep = (required: readonly [string, string], c: AfterVerify): DecisionFailure | undefined =>
  asDecision(unmetClaim(c.request.rule as CompiledRule, c.claims, required));

/** The matched rule's requiredScopes (src/policy/evaluate.ts), each a step. */
function requiredScopes(c: AfterVerify, every?: DecisionFailure[]): DecisionFailure | undefined {
  const rule = authenticating(c);
  return rule === undefined ? undefined : runEach(rule.requiredScopes, scopeStep, c, every);
}

/** The matched rule's requiredClaims, each a step. */
function requiredClaims(c: AfterVerify, every?: DecisionFailure[]): DecisionFailure | undefined {
  const rule = authenticating(c);
  return rule === undefined ? undefined : runEach(rule.requiredClaims, claimStep, c, every);
}

/**
 * Checks that depend on state that changes without the token changing (revocations, the use
 * count) and the matched rule's requirements, in order: revoked → jti required for reuse →
 * reused (or the store's own refusal) → rule requirements.
 */
const AFTER_VERIFY: readonly AsyncStep<AfterVerify, DecisionFailure>[] = [
  revoked,
  jtiRequired,
  reuseStep,
  requiredScopes,
  requiredClaims,
];

/**
 * The chain after verification: the first failure (`every` undefined) or every failure. A
 * promise only when the reuse store answers with one (a store across the network).
 */
export function afterVerifyFailures(
  c: AfterVerify,
  every?: DecisionFailure[],
): DecisionFailure | undefined | Promise<DecisionFailure | undefined> {
  return runChain(AFTER_VERIFY, c, every);
}
