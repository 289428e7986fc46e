import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SessionTable, type SessionIo } from '../../../../src/operator/stream/sessions.js';

const io: SessionIo = { write: () => true, end: () => undefined };
const pod = (name: string) => ({ namespace: 'shop', name, uid: `uid-${name}` });

describe('SessionTable', () => {
  it('counts connected and synced sessions per policy', () => {
    const t = new SessionTable();
    const a = t.open(pod('a'), 'shop/orders', io, 0);
    const b = t.open(pod('b'), 'shop/orders', io, 0);
    t.open(pod('c'), 'shop/other', io, 0);
    a.sentGeneration = b.sentGeneration = 3;
    expect(t.ack(a.id, 3, 'v3', 10)).toBe('ok');
    expect(t.ack(b.id, 2, 'v2', 10)).toBe('ok');
    expect(t.counts('shop/orders', 'v3')).toEqual({ connected: 2, synced: 1 });
    expect(t.policies().sort()).toEqual(['shop/orders', 'shop/other']);
  });

  it('refuses an ack for a generation never sent, and one for an unknown session', () => {
    const t = new SessionTable();
    const a = t.open(pod('a'), 'p', io, 0);
    a.sentGeneration = 1;
    expect(t.ack(a.id, 2, 'v', 1)).toBe('future_generation');
    expect(t.ack('nope', 1, 'v', 1)).toBe('unknown_session');
  });

  it('keeps the newest acked generation when acks arrive out of order', () => {
    const t = new SessionTable();
    const a = t.open(pod('a'), 'p', io, 0);
    a.sentGeneration = 5;
    t.ack(a.id, 5, 'v5', 1);
    t.ack(a.id, 4, 'v4', 2);
    expect(a.ackedVersion).toBe('v5');
    expect(a.lastAckAt).toBe(2);
  });

  it('finds the sessions silent for longer than the timeout, counting from connect', () => {
    const t = new SessionTable();
    const a = t.open(pod('a'), 'p', io, 0);
    const b = t.open(pod('b'), 'p', io, 0);
    b.sentGeneration = 1;
    t.ack(b.id, 1, 'v', 10_000);
    expect(t.silent(15_001, 15_000).map((s) => s.id)).toEqual([a.id]);
    expect(t.remove(a.id)?.id).toBe(a.id);
    expect(t.forPolicy('p').map((s) => s.id)).toEqual([b.id]);
    expect(t.forPod('shop', 'b').length).toBe(1);
  });

  it('keeps counts() equal to a count over every session, whatever opens, acks and leaves', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('open' as const), pod: fc.nat(5), policy: fc.nat(2) }),
      fc.record({ kind: fc.constant('ack' as const), which: fc.nat(20), gen: fc.nat(4), version: fc.nat(3) }),
      fc.record({ kind: fc.constant('remove' as const), which: fc.nat(20) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const t = new SessionTable();
        const ids: string[] = [];
        for (const o of ops) {
          if (o.kind === 'open') {
            const s = t.open(pod(`p${o.pod}`), `shop/p${o.policy}`, io, 0);
            s.sentGeneration = 4;
            ids.push(s.id);
          } else if (ids.length > 0) {
            const id = ids[o.which % ids.length] ?? '';
            if (o.kind === 'ack') t.ack(id, o.gen, `v${o.version}`, 1);
            else t.remove(id);
          }
        }
        for (const policy of ['shop/p0', 'shop/p1', 'shop/p2'])
          for (const version of ['v0', 'v1', 'v2', 'v3', undefined]) {
            const open = t.all().filter((s) => s.policy === policy);
            const synced = open.filter((s) => version !== undefined && s.ackedVersion === version).length;
            expect(t.counts(policy, version)).toEqual({ connected: open.length, synced });
          }
      }),
    );
  });
});
