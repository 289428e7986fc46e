import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Propagation } from '../../../../src/operator/stream/propagation.js';
import { SessionTable, type Session, type SessionIo } from '../../../../src/operator/stream/sessions.js';

const io: SessionIo = { write: () => true, end: () => undefined };

function setup() {
  const done: { key: string; ackedAt?: number; sidecars: number }[] = [];
  const p = new Propagation((a) => done.push(a));
  const t = new SessionTable();
  const a = t.open({ namespace: 'shop', name: 'a', uid: '1' }, 'shop/orders', io, 0);
  const b = t.open({ namespace: 'shop', name: 'b', uid: '2' }, 'shop/orders', io, 0);
  return { p, t, a, b, done };
}

describe('Propagation', () => {
  it('is acknowledged when the last session of the policy acks the generation holding it', () => {
    const { p, t, a, b, done } = setup();
    p.observed('shop/leak', 1, 'u', ['shop/orders'], 1000);
    a.sentGeneration = b.sentGeneration = 2;
    p.built('shop/orders', 2, t.forPolicy('shop/orders'));
    p.settle(1001);
    expect(done).toEqual([]);
    t.ack(a.id, 2, 'v2', 1100);
    p.acked(a, 1100);
    expect(p.summary().get('shop/leak')).toMatchObject({ pending: 1, sidecars: 1 });
    t.ack(b.id, 1, 'v1', 1150); // an older generation does not count
    p.acked(b, 1150);
    expect(done).toEqual([]);
    t.ack(b.id, 2, 'v2', 1200);
    p.acked(b, 1200);
    expect(done).toEqual([expect.objectContaining({ key: 'shop/leak', ackedAt: 1200, sidecars: 2 })]);
  });

  it('needs nothing for policies with no sidecar on this replica', () => {
    const { p, done } = setup();
    p.observed('shop/leak', 1, 'u', ['shop/elsewhere'], 1000);
    p.settle(1005);
    expect(done).toEqual([expect.objectContaining({ key: 'shop/leak', ackedAt: 1005, sidecars: 0 })]);
  });

  it('stops waiting for a session that disconnects', () => {
    const { p, t, a, b, done } = setup();
    p.observed('shop/leak', 1, 'u', ['shop/orders'], 0);
    p.built('shop/orders', 2, t.forPolicy('shop/orders'));
    a.sentGeneration = 2;
    t.ack(a.id, 2, 'v2', 10);
    p.acked(a, 10);
    p.sessionGone(b, 20);
    expect(done).toEqual([expect.objectContaining({ ackedAt: 20, sidecars: 1 })]);
  });

  it('ignores a status-only update (same generation) and restarts on a spec change', () => {
    const { p, done } = setup();
    p.observed('shop/leak', 1, 'u', [], 0);
    p.settle(1);
    p.observed('shop/leak', 1, 'u', [], 50);
    expect(p.summary().get('shop/leak')).toMatchObject({ observedAt: 0, ackedAt: 1 });
    p.observed('shop/leak', 2, 'u', [], 60);
    p.settle(61);
    expect(done.length).toBe(2);
    expect(p.summary().get('shop/leak')).toMatchObject({ generation: 2, observedAt: 60 });
  });

  it('agrees with a scan of every record, whatever is observed, built, acked and left', () => {
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('observe' as const),
        rev: fc.nat(3),
        gen: fc.nat(2),
        policies: fc.subarray(['p0', 'p1']),
      }),
      fc.record({ kind: fc.constant('forget' as const), rev: fc.nat(3) }),
      fc.record({ kind: fc.constant('open' as const), policy: fc.constantFrom('p0', 'p1') }),
      fc.record({ kind: fc.constant('build' as const), policy: fc.constantFrom('p0', 'p1') }),
      fc.record({ kind: fc.constant('ack' as const), which: fc.nat(10), back: fc.nat(2) }),
      fc.record({ kind: fc.constant('gone' as const), which: fc.nat(10) }),
      fc.record({ kind: fc.constant('settle' as const) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 50 }), (ops) => {
        const done: string[] = [];
        const naiveDone: string[] = [];
        const p = new Propagation((a) => done.push(`${a.key}@${a.ackedAt}:${a.sidecars}`));
        const naive = new ScanAll((a) => naiveDone.push(a));
        const t = new SessionTable();
        const open: Session[] = [];
        let seq = 0;
        ops.forEach((o, now) => {
          if (o.kind === 'observe') {
            p.observed(`r${o.rev}`, o.gen, 'u', o.policies, now);
            naive.observed(`r${o.rev}`, o.gen, o.policies);
          } else if (o.kind === 'forget') {
            p.forget(`r${o.rev}`);
            naive.forget(`r${o.rev}`);
          } else if (o.kind === 'open') {
            open.push(
              t.open({ namespace: 'n', name: `s${open.length}`, uid: `${open.length}` }, o.policy, io, now),
            );
          } else if (o.kind === 'build') {
            seq++;
            for (const s of t.forPolicy(o.policy)) s.sentGeneration = seq;
            p.built(o.policy, seq, t.forPolicy(o.policy));
            naive.built(o.policy, seq, t.forPolicy(o.policy));
          } else if (o.kind === 'settle') {
            p.settle(now);
            naive.settle(now);
          } else {
            const s = open[o.which % Math.max(1, open.length)];
            if (s === undefined || t.get(s.id) === undefined) return;
            if (o.kind === 'ack') {
              t.ack(s.id, Math.max(0, s.sentGeneration - o.back), 'v', now);
              p.acked(s, now);
              naive.acked(s, now);
            } else {
              t.remove(s.id);
              p.sessionGone(s, now);
              naive.sessionGone(s, now);
            }
          }
        });
        expect(done).toEqual(naiveDone);
      }),
      { numRuns: 500 },
    );
  });
});

/** The reference: every call scans every record (what Propagation indexes per policy). */
class ScanAll {
  private readonly records = new Map<
    string,
    {
      gen: number;
      targets: Map<string, { seq?: number; remaining: Set<string> }>;
      acked: number;
      ackedAt?: number;
    }
  >();
  constructor(private readonly onDone: (line: string) => void) {}
  observed(key: string, gen: number, policies: readonly string[]): void {
    const prev = this.records.get(key);
    if (prev !== undefined && prev.gen === gen) return;
    this.records.set(key, {
      gen,
      targets: new Map(policies.map((p) => [p, { remaining: new Set() }])),
      acked: 0,
    });
  }
  forget(key: string): void {
    this.records.delete(key);
  }
  built(policy: string, seq: number, sessions: readonly Session[]): void {
    for (const r of this.records.values()) {
      const t = r.targets.get(policy);
      if (t === undefined || t.seq !== undefined) continue;
      t.seq = seq;
      for (const s of sessions)
        if (s.ackedGeneration >= seq) r.acked++;
        else t.remaining.add(s.id);
    }
  }
  acked(s: Session, now: number): void {
    for (const [key, r] of this.records) {
      const t = r.targets.get(s.policy);
      if (t?.seq === undefined || !t.remaining.has(s.id) || s.ackedGeneration < t.seq) continue;
      t.remaining.delete(s.id);
      r.acked++;
      this.complete(key, now);
    }
  }
  sessionGone(s: Session, now: number): void {
    for (const [key, r] of this.records)
      if (r.targets.get(s.policy)?.remaining.delete(s.id) === true) this.complete(key, now);
  }
  settle(now: number): void {
    for (const [key, r] of this.records) {
      for (const t of r.targets.values()) t.seq ??= 0;
      this.complete(key, now);
    }
  }
  private complete(key: string, now: number): void {
    const r = this.records.get(key);
    if (r === undefined || r.ackedAt !== undefined) return;
    for (const t of r.targets.values()) if (t.seq === undefined || t.remaining.size > 0) return;
    r.ackedAt = now;
    this.onDone(`${key}@${now}:${r.acked}`);
  }
}
