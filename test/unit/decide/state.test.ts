import { describe, expect, it } from 'vitest';
import { compilePolicy } from '../../../src/policy/compile.js';
import type { TokenPolicy, TokenRevocation } from '../../../src/policy/types.js';
import { EnforcementState, type Enforcement } from '../../../src/decide/state.js';

const NOW_MS = 1_800_000_000_000;

function policy(name = 'orders-api', namespace?: string): TokenPolicy {
  return {
    apiVersion: 'tokenwarden.dev/v1alpha1',
    kind: 'TokenPolicy',
    metadata: { name, ...(namespace === undefined ? {} : { namespace }) },
    spec: {
      issuers: [
        {
          issuer: 'https://auth.example.com/',
          audiences: ['orders-api'],
          jwksUri: 'https://auth.example.com/jwks.json',
        },
      ],
      forwardClaims: [
        { claim: 'sub', header: 'X-Auth-Subject' },
        { claim: 'scope', header: 'x-auth-scope' },
      ],
    },
  };
}

function revocation(
  name: string,
  tokens: TokenRevocation['spec']['tokens'],
  extra: { namespace?: string; policyName?: string; expiresAt?: string } = {},
): TokenRevocation {
  return {
    apiVersion: 'tokenwarden.dev/v1alpha1',
    kind: 'TokenRevocation',
    metadata: { name, ...(extra.namespace === undefined ? {} : { namespace: extra.namespace }) },
    spec: {
      tokens,
      ...(extra.policyName === undefined ? {} : { policyName: extra.policyName }),
      ...(extra.expiresAt === undefined ? {} : { expiresAt: extra.expiresAt }),
    },
  };
}

const identity = { tokenSha256: 'f'.repeat(64), iss: 'https://auth.example.com/' };

describe('EnforcementState', () => {
  it('has nothing active before the first apply', () => {
    expect(new EnforcementState().active).toBeUndefined();
  });

  it('each apply is a new generation, starting at 1, stamped with the time given', () => {
    const state = new EnforcementState();
    const first = state.apply(compilePolicy(policy()), [], NOW_MS);
    const second = state.apply(compilePolicy(policy()), [], NOW_MS + 5_000);
    expect([first.generation, second.generation]).toEqual([1, 2]);
    expect(second.appliedAt).toBe(NOW_MS + 5_000);
    expect(state.active).toBe(second);
  });

  it('a snapshot taken before a reload is left untouched by it (a request in flight keeps its config)', () => {
    const state = new EnforcementState();
    const before = state.apply(compilePolicy(policy()), [], NOW_MS);
    const held: Enforcement = state.active!;
    state.apply(compilePolicy(policy('renamed')), [revocation('r', [{ jti: 'j-1' }])], NOW_MS + 1);
    expect(held).toBe(before);
    expect(held.policy.name).toBe('orders-api');
    expect(held.revocations.match({ ...identity, jti: 'j-1' })).toBeUndefined();
  });

  it('listeners hear every apply with the new and the previous config', () => {
    const state = new EnforcementState();
    const heard: [number, number | undefined][] = [];
    state.onApply((next, previous) => heard.push([next.generation, previous?.generation]));
    state.apply(compilePolicy(policy()), [], NOW_MS);
    state.apply(compilePolicy(policy()), [], NOW_MS);
    expect(heard).toEqual([
      [1, undefined],
      [2, 1],
    ]);
  });

  it('the stripped headers are the forwarded claim headers, lower-cased', () => {
    const active = new EnforcementState().apply(compilePolicy(policy()), [], NOW_MS);
    expect([...active.strippedHeaders].sort()).toEqual(['x-auth-scope', 'x-auth-subject']);
  });

  it.each([
    {
      name: 'a revocation of the same namespace',
      r: revocation('same', [{ jti: 'j-1' }], { namespace: 'shop' }),
      applies: true,
    },
    {
      name: 'a revocation without namespace (a standalone file)',
      r: revocation('none', [{ jti: 'j-1' }]),
      applies: true,
    },
    {
      name: 'a revocation of another namespace',
      r: revocation('other', [{ jti: 'j-1' }], { namespace: 'billing' }),
      applies: false,
    },
    {
      name: 'a revocation naming this policy',
      r: revocation('named', [{ jti: 'j-1' }], { namespace: 'shop', policyName: 'orders-api' }),
      applies: true,
    },
    {
      name: 'a revocation naming another policy',
      r: revocation('elsewhere', [{ jti: 'j-1' }], { namespace: 'shop', policyName: 'billing-api' }),
      applies: false,
    },
    {
      name: 'a revocation past its expiresAt',
      r: revocation('gone', [{ jti: 'j-1' }], { namespace: 'shop', expiresAt: '2027-01-01T00:00:00Z' }),
      applies: false,
    },
    {
      name: 'a revocation before its expiresAt',
      r: revocation('kept', [{ jti: 'j-1' }], { namespace: 'shop', expiresAt: '2030-01-01T00:00:00Z' }),
      applies: true,
    },
  ])('$name applies: $applies', ({ r, applies }) => {
    const active = new EnforcementState().apply(compilePolicy(policy('orders-api', 'shop')), [r], NOW_MS);
    expect(active.revocations.match({ ...identity, jti: 'j-1' })).toBe(applies ? r.metadata.name : undefined);
    expect(active.revocations.size).toBe(applies ? 1 : 0);
  });

  it('counts every entry of every applying revocation', () => {
    const active = new EnforcementState().apply(
      compilePolicy(policy()),
      [
        revocation('a', [{ jti: 'j-1' }, { subject: 'user-1' }]),
        revocation('b', [{ tokenSha256: 'a'.repeat(64) }]),
      ],
      NOW_MS,
    );
    expect(active.revocations.size).toBe(3);
    expect(active.revocations.match({ ...identity, sub: 'user-1' })).toBe('a');
    expect(active.revocations.match({ ...identity, tokenSha256: 'a'.repeat(64) })).toBe('b');
  });
});

describe('EnforcementState.expireRevocations', () => {
  const expiresAt = new Date(NOW_MS + 60_000).toISOString();

  it('keeps a revocation until its expiresAt, then drops it as a new generation', () => {
    const state = new EnforcementState();
    const first = state.apply(
      compilePolicy(policy()),
      [revocation('short', [{ jti: 'j-1' }], { expiresAt }), revocation('long', [{ jti: 'j-2' }])],
      NOW_MS,
    );
    expect(first.revocations.size).toBe(2);
    expect(state.expireRevocations(NOW_MS + 59_000)).toBeUndefined();
    expect(state.active).toBe(first);

    const next = state.expireRevocations(NOW_MS + 60_000);
    expect(next?.generation).toBe(first.generation + 1);
    expect(next?.revocations.size).toBe(1);
    expect(next?.revocations.match({ ...identity, jti: 'j-1' })).toBeUndefined();
    expect(next?.revocations.match({ ...identity, jti: 'j-2' })).toBe('long');
    expect(state.expireRevocations(NOW_MS + 120_000)).toBeUndefined();
  });

  it('does nothing before the first apply', () => {
    expect(new EnforcementState().expireRevocations(NOW_MS)).toBeUndefined();
  });
});
