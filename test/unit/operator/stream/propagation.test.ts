import { describe, expect, it } from 'vitest';
import { Propagation } from '../../../../src/operator/stream/propagation.js';
import { SessionTable, type SessionIo } from '../../../../src/operator/stream/sessions.js';

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
});
