import { describe, expect, it } from 'vitest';
import {
  Aggregate,
  STALE_MS,
  makeSummary,
  replicaObjectName,
  type ReplicaSummary,
} from '../../../../src/operator/stream/summary.js';

const rev = (ackedAt: number | undefined, sidecars: number, observedAt = 1_000) => ({
  generation: 1,
  uid: 'u',
  observedAt,
  ...(ackedAt === undefined ? {} : { ackedAt }),
  sidecars,
  pending: ackedAt === undefined ? 1 : 0,
});

function replica(
  identity: string,
  updatedAt: number,
  revocations: ReplicaSummary['revocations'],
  synced = 1,
): ReplicaSummary {
  return {
    identity,
    updatedAt,
    policies: { 'shop/orders': { version: 'v', connected: 2, synced } },
    revocations,
  };
}

describe('Aggregate', () => {
  const now = 100_000;
  it('sums synced sidecars over live replicas, ignoring stale ones', () => {
    const agg = Aggregate.of(
      [replica('a', now, {}, 2), replica('b', now - 1000, {}, 3), replica('c', now - STALE_MS - 1, {}, 7)],
      now,
    );
    expect(agg.synced('shop/orders')).toBe(5);
    expect(agg.connected('shop/orders')).toBe(4);
    expect(agg.synced('shop/other')).toBe(0);
  });

  it('acknowledges a revocation only when every live replica did, from the first observation to the last ack', () => {
    const pending = Aggregate.of(
      [
        replica('a', now, { 'shop/leak': rev(1_300, 2) }),
        replica('b', now, { 'shop/leak': rev(undefined, 0) }),
      ],
      now,
    );
    expect(pending.revocation('shop/leak', 'u', 1)).toBeUndefined();
    const done = Aggregate.of(
      [
        replica('a', now, { 'shop/leak': rev(1_300, 2, 1_000) }),
        replica('b', now, { 'shop/leak': rev(1_900, 1, 1_100) }),
      ],
      now,
    );
    expect(done.revocation('shop/leak', 'u', 1)).toEqual({
      generation: 1,
      acknowledgedAt: 1_900,
      propagationSeconds: 0.9,
      sidecars: 3,
    });
    expect(done.revocation('shop/leak', 'u', 2)).toBeUndefined();
    expect(done.revocation('shop/leak', 'other-uid', 1)).toBeUndefined();
  });

  it('waits for a replica that has not seen the revocation yet', () => {
    const agg = Aggregate.of([replica('a', now, { 'shop/leak': rev(1_300, 2) }), replica('b', now, {})], now);
    expect(agg.revocation('shop/leak', 'u', 1)).toBeUndefined();
  });
});

describe('makeSummary', () => {
  it('keeps pending and recently acknowledged revocations only', () => {
    const s = makeSummary(
      'a',
      10 * 60_000 + 5_000,
      new Map(),
      new Map([
        ['old', rev(1_000, 1)],
        ['recent', rev(10 * 60_000, 1)],
        ['pending', rev(undefined, 0)],
      ]),
    );
    expect(Object.keys(s.revocations).sort()).toEqual(['pending', 'recent']);
  });
});

describe('replicaObjectName', () => {
  it('makes a ConfigMap name of any identity', () => {
    expect(replicaObjectName('tokenwarden-7d9f-abc')).toBe('tokenwarden-replica-tokenwarden-7d9f-abc');
    expect(replicaObjectName('Host_Name_123')).toBe('tokenwarden-replica-host-name-123');
  });
});
