/**
 * What a verified token must also carry for the matched rule (requiredScopes, requiredClaims),
 * and which of its claims are forwarded to the app. Pure; runs per request, so the passing path
 * allocates nothing.
 */
import type { JWTPayload } from 'jose';
import type { DenyReason } from '../core/reasons.js';
import type { CompiledPolicy, CompiledRule } from './types.js';

/** The reasons a rule's requirements can give: named from the one union, not re-typed. */
export type RuleReason = Extract<DenyReason, 'insufficient_scope' | 'missing_claim'>;

export type RuleFailure = {
  ok: false;
  reason: RuleReason;
  description: string;
  /** Every scope the rule requires, space separated: the WWW-Authenticate `scope` parameter. */
  scope?: string;
};

/** Is `scope` one of the space-separated tokens of `list`? Scans without splitting. */
function listHas(list: string, scope: string): boolean {
  let from = 0;
  for (;;) {
    const at = list.indexOf(scope, from);
    if (at < 0) return false;
    const end = at + scope.length;
    if (
      (at === 0 || list.charCodeAt(at - 1) === 0x20) &&
      (end === list.length || list.charCodeAt(end) === 0x20)
    ) {
      return true;
    }
    from = at + 1;
  }
}

function claim(claims: JWTPayload, name: string): unknown {
  return Object.hasOwn(claims, name) ? claims[name] : undefined;
}

/** Scopes come from `scope` (RFC 8693: space separated) or `scp` (a list, or space separated). */
function hasScope(claims: JWTPayload, scope: string): boolean {
  const s = claim(claims, 'scope');
  if (typeof s === 'string' && listHas(s, scope)) return true;
  const scp = claim(claims, 'scp');
  if (Array.isArray(scp)) return scp.includes(scope);
  return typeof scp === 'string' && listHas(scp, scope);
}

/** String equal; numbers and booleans compare by their JSON text (`true`, `42`), as YAML would write them. */
function scalarEquals(v: unknown, expected: string): boolean {
  if (typeof v === 'string') return v === expected;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v) === expected;
  return false;
}

function hasClaimValue(claims: JWTPayload, name: string, expected: string): boolean {
  const v = claim(claims, name);
  if (Array.isArray(v)) return v.some((x) => scalarEquals(x, expected));
  return scalarEquals(v, expected);
}

/** Text from the policy, made safe for an RFC 6750 error_description (no `"`, `\`, controls). */
function quoteSafe(s: string): string {
  return s.replace(/[^\x20\x21\x23-\x5B\x5D-\x7E]/g, '?');
}

function scopeFailure(rule: CompiledRule, scope: string): RuleFailure {
  const description = `the token lacks the required scope ${quoteSafe(scope)}`;
  return { ok: false, reason: 'insufficient_scope', description, scope: rule.requiredScopes.join(' ') };
}

function claimFailure(rule: CompiledRule, name: string): RuleFailure {
  const description = `the token's ${quoteSafe(name)} claim is missing or does not have the required value`;
  // README ("What clients see"): a missing scope or claim answers insufficient_scope with scope="…" when the rule
  // names scopes, so the client learns what a sufficient token looks like.
  const failure: RuleFailure = { ok: false, reason: 'missing_claim', description };
  if (rule.requiredScopes.length > 0) failure.scope = rule.requiredScopes.join(' ');
  return failure;
}

/**
 * The failure if `claims` lack `scope`, one of `rule`'s required scopes; allocates on failure
 * only. The decision runs one such step per required scope, then one per required claim
 * (src/decide/steps.ts).
 */
export function unmetScope(rule: CompiledRule, claims: JWTPayload, scope: string): RuleFailure | undefined {
  return hasScope(claims, scope) ? undefined : scopeFailure(rule, scope);
}

/** The failure if `claims` lack `[name, value]`, one of `rule`'s required claims. */
export function unmetClaim(
  rule: CompiledRule,
  claims: JWTPayload,
  required: readonly [name: string, value: string],
): RuleFailure | undefined {
  return hasClaimValue(claims, required[0], required[1]) ? undefined : claimFailure(rule, required[0]);
}

/**
 * Printable ASCII only. CR/LF would split the header (response splitting towards the app); other
 * controls and non-ASCII are refused by Node or mangled as latin1: the app gets no header rather
 * than a wrong one.
 */
function isSafeHeaderValue(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

function headerValue(v: unknown): string | undefined {
  if (typeof v === 'string') return isSafeHeaderValue(v) ? v : undefined;
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : undefined;
  if (typeof v === 'boolean') return String(v);
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) {
    const joined = v.join(',');
    return isSafeHeaderValue(joined) ? joined : undefined;
  }
  return undefined; // objects, null, mixed lists: no faithful one-line form
}

/**
 * `[lower-case header, value]` for each forwarded claim the token carries in a forwardable
 * form. The proxy must still strip incoming copies of every configured header, including
 * those not returned here, or a client could supply its own `X-Auth-Subject`.
 */
export function forwardedHeaders(
  policy: CompiledPolicy,
  claims: JWTPayload,
): [lowerHeader: string, value: string][] {
  const out: [string, string][] = [];
  for (const f of policy.forwardClaims) {
    const value = headerValue(claim(claims, f.claim));
    if (value !== undefined) out.push([f.header, value]);
  }
  return out;
}
