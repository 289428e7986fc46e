/**
 * The steps of a decision that the proxy (engine.ts, first failure) and `tokenwarden check`
 * (explain.ts, every failure) share, with their one wording each: the rule's own verdict, the
 * token's presence, and everything checked after the signature and claims (src/token/verify.ts
 * runs those as its own chain). The reuse step counts a use, so only the proxy passes `countUse`.
 */
import type { JWTPayload } from 'jose';
import { record, type Failure } from '../core/chain.js';
import { ruleFailures, type RuleFailure } from '../policy/evaluate.js';
import type { CompiledRule } from '../policy/types.js';
import type { Stage } from './decision.js';
import type { ActiveConfig } from './state.js';

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

export interface AfterVerify {
  readonly active: ActiveConfig;
  readonly rule: CompiledRule | undefined;
  /** Verified on the request path; unverified (for reporting only) in `check`. */
  readonly claims: JWTPayload;
  /** SHA-256 of the signed part. */
  readonly tokenSha256: string;
  /** Counts one use of (iss, jti) and returns the count; undefined: do not count (`check`). */
  readonly countUse?: ((iss: string, jti: string) => number) | undefined;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/**
 * Checks that depend on state that changes without the token changing (revocations, the use
 * counter) and the matched rule's requirements, in order: revoked → jti required for reuse →
 * reused → rule requirements. First failure (`every` undefined) or every failure.
 */
export function afterVerifyFailures(c: AfterVerify, every?: DecisionFailure[]): DecisionFailure | undefined {
  let first: DecisionFailure | undefined;
  const failed = (f: DecisionFailure): boolean => {
    first ??= f;
    return record(f, every);
  };
  const claims = c.claims;
  const iss = str(claims.iss) ?? '';
  const sub = str(claims.sub);
  const jti = str(claims.jti);
  const iat = typeof claims.iat === 'number' ? claims.iat : undefined;
  const sid = str(claims.sid);
  const revokedBy = c.active.revocations.match({ jti, tokenSha256: c.tokenSha256, sub, sid, iss, iat });
  if (revokedBy !== undefined) {
    const f: DecisionFailure = {
      stage: 'token',
      reason: 'revoked',
      description: `revoked by TokenRevocation ${revokedBy}`,
    };
    if (failed(f)) return f;
  }
  const maxUses = c.active.policy.maxUses;
  if (maxUses > 0) {
    if (jti === undefined) {
      const f: DecisionFailure = {
        stage: 'token',
        reason: 'malformed',
        description: 'reuse.maxUses is set and the token has no jti',
      };
      if (failed(f)) return f;
    } else if (c.countUse !== undefined) {
      // Keyed by issuer too: two issuers may mint the same jti.
      const uses = c.countUse(iss, jti);
      if (uses > maxUses) {
        const why =
          uses === Infinity
            ? 'the reuse table is full (refusing rather than forgetting uses)'
            : `use ${uses} of at most ${maxUses}`;
        const f: DecisionFailure = { stage: 'token', reason: 'reused', description: why };
        if (failed(f)) return f;
      }
    }
  }
  if (c.rule?.action === 'Authenticate') {
    const toFailure = (r: RuleFailure): DecisionFailure => ({
      stage: 'rule',
      reason: r.reason,
      description: r.description,
      scope: r.scope,
    });
    if (every === undefined) {
      const unmet = ruleFailures(c.rule, claims);
      if (unmet !== undefined) return toFailure(unmet);
    } else {
      const unmet: RuleFailure[] = [];
      ruleFailures(c.rule, claims, unmet);
      for (const r of unmet) failed(toFailure(r));
    }
  }
  return first;
}
