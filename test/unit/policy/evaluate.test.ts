import type { JWTPayload } from 'jose';
import { describe, expect, it } from 'vitest';
import { forwardedHeaders, unmetClaim, unmetScope, type RuleFailure } from '../../../src/policy/evaluate.js';
import type { CompiledPolicy, CompiledRule } from '../../../src/policy/types.js';

function rule(scopes: string[], claims: Record<string, string> = {}): CompiledRule {
  return {
    name: 'r',
    exact: new Set(['/']),
    prefixes: [],
    methods: undefined,
    action: 'Authenticate',
    requiredScopes: scopes,
    requiredClaims: Object.entries(claims),
  };
}

/** Every unmet requirement in the decision's order (src/decide/steps.ts): scopes, then claims. */
function explainRule(r: CompiledRule, claims: JWTPayload): RuleFailure[] {
  return [
    ...r.requiredScopes.map((s) => unmetScope(r, claims, s)),
    ...r.requiredClaims.map((c) => unmetClaim(r, claims, c)),
  ].filter((f): f is RuleFailure => f !== undefined);
}

/** The first unmet requirement, or ok. */
const evaluateRule = (r: CompiledRule, claims: JWTPayload): { ok: true } | RuleFailure =>
  explainRule(r, claims)[0] ?? { ok: true };

const ADMIN = rule(['orders:admin', 'orders:read'], { role: 'admin' });

describe('evaluateRule', () => {
  it.each<{ name: string; claims: JWTPayload; reason?: string }>([
    {
      name: 'scopes from a space-separated scope claim',
      claims: { scope: 'orders:read orders:admin', role: 'admin' },
    },
    { name: 'scopes from an scp list', claims: { scp: ['orders:admin', 'orders:read'], role: 'admin' } },
    { name: 'scopes from a space-separated scp', claims: { scp: 'orders:read orders:admin', role: 'admin' } },
    {
      name: 'scopes split over scope and scp',
      claims: { scope: 'orders:read', scp: ['orders:admin'], role: 'admin' },
    },
    {
      name: 'a role among a role list',
      claims: { scope: 'orders:admin orders:read', role: ['user', 'admin'] },
    },
    {
      name: 'a missing scope',
      claims: { scope: 'orders:read', role: 'admin' },
      reason: 'insufficient_scope',
    },
    { name: 'no scope claim at all', claims: { role: 'admin' }, reason: 'insufficient_scope' },
    {
      name: 'a scope that only starts like the required one',
      claims: { scope: 'orders:administrator orders:read', role: 'admin' },
      reason: 'insufficient_scope',
    },
    {
      name: 'a scope that only ends like the required one',
      claims: { scope: 'xorders:admin orders:read', role: 'admin' },
      reason: 'insufficient_scope',
    },
    {
      name: 'an scp list of another shape',
      claims: { scp: [['orders:admin', 'orders:read']], role: 'admin' },
      reason: 'insufficient_scope',
    },
    { name: 'a missing claim', claims: { scope: 'orders:admin orders:read' }, reason: 'missing_claim' },
    {
      name: 'a claim with another value',
      claims: { scope: 'orders:admin orders:read', role: 'Admin' },
      reason: 'missing_claim',
    },
    {
      name: 'a claim that is an object',
      claims: { scope: 'orders:admin orders:read', role: { admin: true } },
      reason: 'missing_claim',
    },
  ])('$name', ({ claims, reason }) => {
    const check = evaluateRule(ADMIN, claims);
    expect(check.ok ? undefined : check.reason).toBe(reason);
  });

  it('passes a rule without requirements', () => expect(evaluateRule(rule([]), {})).toEqual({ ok: true }));

  it('names every required scope for the WWW-Authenticate scope parameter', () => {
    expect(evaluateRule(ADMIN, { scope: 'orders:read' })).toEqual({
      ok: false,
      reason: 'insufficient_scope',
      description: 'the token lacks the required scope orders:admin',
      scope: 'orders:admin orders:read',
    });
  });

  it('compares numbers and booleans by their text', () => {
    const r = rule([], { verified: 'true', tier: '2' });
    expect(evaluateRule(r, { verified: true, tier: 2 }).ok).toBe(true);
    expect(evaluateRule(r, { verified: false, tier: 2 }).ok).toBe(false);
  });

  it('does not find inherited properties as claims', () => {
    const r = rule([], { constructor: 'function Object() { [native code] }' });
    expect(evaluateRule(r, {}).ok).toBe(false);
  });

  it('keeps quotes and controls of policy text out of the description', () => {
    const check = evaluateRule(rule([], { 'a"b\n': 'x' }), {});
    expect(check.ok ? '' : check.description).toBe(
      "the token's a?b? claim is missing or does not have the required value",
    );
  });
});

describe('explainRule', () => {
  it('lists every failure, scopes first', () => {
    expect(explainRule(ADMIN, { role: 'user' }).map((f) => [f.reason, f.description])).toEqual([
      ['insufficient_scope', 'the token lacks the required scope orders:admin'],
      ['insufficient_scope', 'the token lacks the required scope orders:read'],
      ['missing_claim', "the token's role claim is missing or does not have the required value"],
    ]);
  });

  it('lists nothing for a satisfied rule', () => {
    expect(explainRule(ADMIN, { scope: 'orders:admin orders:read', role: 'admin' })).toEqual([]);
  });
});

describe('forwardedHeaders', () => {
  const policy = {
    forwardClaims: [
      { claim: 'sub', header: 'x-sub' },
      { claim: 'groups', header: 'x-groups' },
      { claim: 'n', header: 'x-n' },
      { claim: 'admin', header: 'x-admin' },
    ],
  } as unknown as CompiledPolicy;

  // Claims as they may arrive from any issuer, not as RFC 7519 types them.
  it.each<{ name: string; claims: Record<string, unknown>; want: [string, string][] }>([
    {
      name: 'strings, string lists, numbers and booleans',
      claims: { sub: 'user-1', groups: ['a', 'b'], n: 3, admin: false },
      want: [
        ['x-sub', 'user-1'],
        ['x-groups', 'a,b'],
        ['x-n', '3'],
        ['x-admin', 'false'],
      ],
    },
    { name: 'nothing for absent claims', claims: {}, want: [] },
    { name: 'nothing for objects and null', claims: { sub: { id: 1 }, groups: null }, want: [] },
    { name: 'nothing for mixed lists', claims: { groups: ['a', 1] }, want: [] },
    {
      name: 'never a value with CR or LF',
      claims: { sub: 'u\r\nX-Admin: true', groups: ['a\nb'] },
      want: [],
    },
    {
      name: 'never a value with another control character',
      claims: { sub: 'u\u0000', groups: ['a\tb'] },
      want: [],
    },
    { name: 'never a non-ASCII value', claims: { sub: '山田' }, want: [] },
    { name: 'an empty string as it is', claims: { sub: '' }, want: [['x-sub', '']] },
  ])('$name', ({ claims, want }) => {
    expect(forwardedHeaders(policy, claims as JWTPayload)).toEqual(want);
  });
});
