import { describe, expect, it } from 'vitest';
import {
  Aggregate,
  STALE_MS,
  MAX_SUMMARY_BYTES,
  fitSummary,
  makeSummary,
  replicaFieldManager,
  replicaKey,
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

describe('replicaKey and replicaFieldManager', () => {
  it('make a ConfigMap data key of any identity, and a field manager that fits 128 characters', () => {
    expect(replicaKey('tokenwarden-7d9f-abc')).toBe('tokenwarden-7d9f-abc.json');
    expect(replicaKey('Host_Name_123')).toBe('host-name-123.json');
    expect(replicaKey('__')).toBe('replica.json');
    const long = replicaKey('x'.repeat(300));
    expect(long).toMatch(/^[-._a-zA-Z0-9]+$/);
    expect(replicaFieldManager(long).length).toBeLessThanOrEqual(128);
    expect(replicaFieldManager(replicaKey('pod-a'))).toBe('tokenwarden-replica-pod-a');
  });
});

describe('fitSummary', () => {
  it('keeps a small summary whole and drops the oldest revocations of a large one', () => {
    const revocations = new Map(
      Array.from(
        { length: 4000 },
        (_, i) => [`ns/${'r'.repeat(100)}-${i}`, rev(undefined, 1, 1_000 + i)] as const,
      ),
    );
    const s = makeSummary('a', 5_000, new Map(), revocations);
    expect(JSON.stringify(s).length).toBeGreaterThan(MAX_SUMMARY_BYTES);
    const text = fitSummary(s)!;
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(MAX_SUMMARY_BYTES);
    const kept = Object.keys((JSON.parse(text) as ReplicaSummary).revocations);
    expect(kept.length).toBeGreaterThan(0);
    expect(kept).toContain(`ns/${'r'.repeat(100)}-3999`);
    expect(kept).not.toContain(`ns/${'r'.repeat(100)}-0`);
    const small = makeSummary('a', 5_000, new Map(), new Map([['ns/x', rev(undefined, 1)]]));
    expect(fitSummary(small)).toBe(JSON.stringify(small));
    expect(fitSummary(small, 10)).toBeUndefined();
  });
});
