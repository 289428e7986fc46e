import { describe, expect, it } from 'vitest';
import { RevocationIndex } from '../../../../src/operator/revocation/revocation-index.js';
import { isExpired } from '../../../../src/revocation/rule.js';
import type { TokenRevocation } from '../../../../src/policy/types.js';

const NOW = Date.parse('2026-06-01T12:00:00Z');

function rev(
  namespace: string,
  name: string,
  tokens: number,
  policyName?: string,
  expiresAt?: string,
): TokenRevocation {
  return {
    apiVersion: 'tokenwarden.dev/v1alpha1',
    kind: 'TokenRevocation',
    metadata: { namespace, name },
    spec: { policyName, expiresAt, tokens: Array.from({ length: tokens }, (_, i) => ({ jti: `j${i}` })) },
  };
}

describe('RevocationIndex', () => {
  it('counts the entries that apply to a policy: its own and the namespace-wide ones', () => {
    const idx = new RevocationIndex();
    idx.upsert(rev('shop', 'a', 2, 'orders'));
    idx.upsert(rev('shop', 'b', 3));
    idx.upsert(rev('shop', 'c', 5, 'billing'));
    idx.upsert(rev('other', 'd', 7));
    expect(idx.countEntries('shop', 'orders', NOW)).toBe(5);
    expect(idx.countEntries('shop', 'billing', NOW)).toBe(8);
    expect(idx.countEntries('shop', 'nobody', NOW)).toBe(3);
    expect(idx.countEntries('empty', 'orders', NOW)).toBe(0);
    expect(idx.forPolicy('shop', 'orders', NOW).map((r) => r.metadata.name)).toEqual(['a', 'b']);
  });

  it('leaves expired revocations out before they are collected', () => {
    const idx = new RevocationIndex();
    idx.upsert(rev('shop', 'old', 1, undefined, '2026-06-01T11:00:00Z'));
    idx.upsert(rev('shop', 'live', 1, undefined, '2026-06-01T13:00:00Z'));
    expect(idx.countEntries('shop', 'p', NOW)).toBe(1);
  });

  it('moves a revocation whose policyName changed, and forgets removed ones', () => {
    const idx = new RevocationIndex();
    idx.upsert(rev('shop', 'a', 1, 'orders'));
    idx.upsert(rev('shop', 'a', 4, 'billing'));
    expect(idx.countEntries('shop', 'orders', NOW)).toBe(0);
    expect(idx.countEntries('shop', 'billing', NOW)).toBe(4);
    expect(idx.remove('shop', 'a')?.spec.policyName).toBe('billing');
    expect(idx.remove('shop', 'a')).toBeUndefined();
    expect(idx.size()).toBe(0);
  });

  it('isExpired treats a missing expiresAt as never', () => {
    expect(isExpired(rev('n', 'a', 1), NOW)).toBe(false);
    expect(isExpired(rev('n', 'a', 1, undefined, '2026-06-01T12:00:00Z'), NOW)).toBe(true);
  });
});
