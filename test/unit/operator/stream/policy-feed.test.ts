import { describe, expect, it } from 'vitest';
import { HISTORY, PolicyFeed } from '../../../../src/operator/stream/policy-feed.js';
import { config, policy, revocation } from './fixtures.js';

const names = (revs: { metadata: { name: string } }[] | undefined) =>
  (revs ?? []).map((r) => r.metadata.name).sort();

describe('PolicyFeed', () => {
  it('gives the same version to the same content, built in any order', () => {
    const a = new PolicyFeed(config([revocation('r1'), revocation('r2')]));
    const b = new PolicyFeed(config([revocation('r2'), revocation('r1')]));
    expect(a.version).toBe(b.version);
  });

  it('reports no change (and keeps version and seq) when the content is the same', () => {
    const s = new PolicyFeed(config([revocation('r1')]));
    const v = s.version;
    expect(s.update(config([revocation('r1')]))).toBeUndefined();
    expect(s.version).toBe(v);
    expect(s.seq).toBe(1);
  });

  it('computes a delta with exactly what changed', () => {
    const s = new PolicyFeed(config([revocation('r1'), revocation('r2')]));
    const base = s.version;
    const change = s.update(config([revocation('r1'), revocation('r2', 'other'), revocation('r3')]));
    expect(change?.base).toBe(base);
    expect(change?.version).toBe(s.version);
    expect(names(change?.revocationsUpserted)).toEqual(['r2', 'r3']);
    expect(change?.revocationsRemoved).toBeUndefined();
    expect(change?.policy).toBeUndefined();
    expect(change?.keys).toBeUndefined();
    expect(s.seq).toBe(2);

    const next = s.update(config([revocation('r3')], policy(2, 'other-api')));
    expect(next?.revocationsRemoved?.sort()).toEqual(['r1', 'r2']);
    expect(next?.policy?.metadata.generation).toBe(2);
  });

  it('composes the history into one delta from an older version', () => {
    const s = new PolicyFeed(config([revocation('r1')]));
    const v1 = s.version;
    s.update(config([revocation('r1'), revocation('r2')]));
    s.update(config([revocation('r2'), revocation('r3')]));
    s.update(config([revocation('r2'), revocation('r3'), revocation('r1', 'again')]));
    const change = s.changeFrom(v1);
    expect(change?.base).toBe(v1);
    expect(change?.version).toBe(s.version);
    expect(names(change?.revocationsUpserted)).toEqual(['r1', 'r2', 'r3']);
    expect(change?.revocationsRemoved ?? []).toEqual([]);
    // Applying it to the v1 content gives the current content.
    const applied = new Map([['r1', revocation('r1')]]);
    for (const n of change?.revocationsRemoved ?? []) applied.delete(n);
    for (const r of change?.revocationsUpserted ?? []) applied.set(r.metadata.name, r);
    expect(new PolicyFeed(config([...applied.values()])).version).toBe(s.version);
  });

  it('answers an empty change from the current version and nothing for a forgotten one', () => {
    const s = new PolicyFeed(config([]));
    const first = s.version;
    expect(s.changeFrom(first)).toEqual({ base: first, version: first });
    for (let i = 0; i <= HISTORY; i++) s.update(config([revocation(`r${i}`)]));
    expect(s.changeFrom(first)).toBeUndefined();
    expect(s.seqOf(first)).toBeUndefined();
    expect(s.changeFrom('never-seen')).toBeUndefined();
  });
});
