import type { V1Pod } from '@kubernetes/client-node';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it, vi } from 'vitest';
import { createOperatorMetrics } from '../../../../src/metrics/operator.js';
import type { RawObject } from '../../../../src/operator/runtime/informers.js';
import { PolicyCatalog } from '../../../../src/operator/policy/catalog.js';
import { SharedKeys } from '../../../../src/operator/policy/keys.js';
import { StreamHub } from '../../../../src/operator/stream/hub.js';
import type { Session } from '../../../../src/operator/stream/sessions.js';
import { cache, rawPolicy, revocation, revokeIn } from './fixtures.js';

const pod = (name: string, app = 'orders'): V1Pod => ({
  metadata: { name, namespace: 'shop', uid: `u-${name}`, labels: { app } },
  status: { phase: 'Running' },
});
const tick = () => new Promise((r) => setImmediate(r));

function setup() {
  const policies = cache<RawObject>([rawPolicy]);
  const pods = cache<V1Pod>([pod('a'), pod('b', 'batch')]);
  const index = cache<RawObject>([]);
  const metrics = createOperatorMetrics(new Registry());
  const keys = new SharedKeys();
  const hub = new StreamHub({
    catalog: new PolicyCatalog(policies),
    pods,
    revocations: index,
    keys,
    log: pino({ level: 'silent' }),
    metrics,
  });
  hub.start();
  const lines: Record<string, unknown>[] = [];
  let ended = '';
  const io = {
    write: (l: string, body?: Buffer) => (
      lines.push(JSON.parse(l + (body?.toString('utf8') ?? '')) as Record<string, unknown>),
      true
    ),
    end: (r: string) => (ended = r),
  };
  return { hub, policies, pods, index, metrics, keys, lines, io, ended: () => ended };
}

describe('StreamHub', () => {
  it('resolves a pod to the policy of its own namespace, with the refusals of the contract', () => {
    const { hub } = setup();
    expect(hub.resolve({ namespace: 'shop', name: 'a', uid: 'u-a' }, 'default')).toEqual({
      ok: true,
      policy: 'shop/orders',
    });
    expect(hub.resolve({ namespace: 'shop', name: 'a', uid: 'other' }, 'default')).toMatchObject({
      ok: false,
      reason: 'pod_not_found',
      status: 403,
    });
    // A token of another ServiceAccount than the one the pod runs as names no pod we serve.
    expect(hub.resolve({ namespace: 'shop', name: 'a', uid: 'u-a' }, 'builder')).toMatchObject({
      ok: false,
      reason: 'pod_not_found',
      status: 403,
      message: 'pod shop/a does not run as ServiceAccount builder',
    });
    expect(hub.resolve({ namespace: 'shop', name: 'b', uid: 'u-b' }, 'default')).toMatchObject({
      ok: false,
      reason: 'no_policy',
      status: 404,
    });
    expect(hub.resolve({ namespace: 'elsewhere', name: 'a', uid: 'u-a' }, 'default')).toMatchObject({
      ok: false,
      reason: 'no_policy',
    });
    hub.close();
  });

  it('sends a snapshot, pushes a delta on a revocation, and counts the ack as propagation', async () => {
    const { hub, index, lines, io, metrics, keys } = setup();
    await keys.ensure('shop/orders', []);
    const s = hub.connect(
      { namespace: 'shop', name: 'a', uid: 'u-a' },
      'shop/orders',
      io,
      undefined,
    ) as Session;
    expect(lines[0]).toMatchObject({ type: 'snapshot', session: s.id, generation: 1 });
    hub.ack({ session: s.id, generation: 1, version: lines[0]!.version as string });

    const rev = revocation('leak');
    index.items.push({
      ...rev,
      metadata: { name: 'leak', namespace: 'shop', uid: 'r1', generation: 1 },
    });
    hub.updates.revocationChanged(
      false,
      {
        kind: rev.kind,
        metadata: { name: 'leak', namespace: 'shop', uid: 'r1', generation: 1 },
        spec: rev.spec,
      },
      undefined,
    );
    await tick();
    expect(lines[1]).toMatchObject({
      type: 'delta',
      base: lines[0]!.version,
      generation: 2,
      revocationsUpserted: [{ metadata: { name: 'leak' } }],
    });
    expect(hub.revocationSummary().get('shop/leak')).toMatchObject({ pending: 1 });
    hub.ack({ session: s.id, generation: 2, version: lines[1]!.version as string });
    expect(hub.revocationSummary().get('shop/leak')).toMatchObject({
      pending: 0,
      sidecars: 1,
      ackedAt: expect.any(Number),
    });
    expect(
      (await metrics.propagation.get()).values.find((v) => v.metricName?.endsWith('_count'))?.value,
    ).toBe(1);
    expect(hub.policySummary().get('shop/orders')).toMatchObject({ connected: 1, synced: 1 });

    // A reconnect from the first version gets one composed delta.
    hub.disconnected(s.id, 'client_closed');
    hub.connect({ namespace: 'shop', name: 'a', uid: 'u-a' }, 'shop/orders', io, lines[0]!.version as string);
    expect(lines[2]).toMatchObject({ type: 'delta', base: lines[0]!.version, version: lines[1]!.version });
    hub.close();
  });

  it('ends the session of a pod that is deleted or relabelled', () => {
    const { hub, io, ended } = setup();
    hub.connect({ namespace: 'shop', name: 'a', uid: 'u-a' }, 'shop/orders', io, undefined);
    hub.updates.podChanged(false, pod('a', 'batch'));
    expect(ended()).toBe('not_selected');
    expect(hub.sessions.size).toBe(0);
    hub.close();
  });

  it('keeps serving the last valid policy when an edit makes it invalid', async () => {
    const { hub, policies, io, lines } = setup();
    hub.connect({ namespace: 'shop', name: 'a', uid: 'u-a' }, 'shop/orders', io, undefined);
    policies.items[0] = {
      ...rawPolicy,
      metadata: { ...rawPolicy.metadata, generation: 2 },
      spec: { ...(rawPolicy.spec as object), targetPort: -1 },
    };
    hub.updates.policyChanged('shop', 'orders');
    await tick();
    expect(lines.length).toBe(1);
    hub.close();
  });

  it('heartbeats go only to sessions sent nothing since the last tick', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      const { hub, index, lines, io } = setup();
      const ref = { namespace: 'shop', name: 'a', uid: 'u-a' };
      hub.connect(ref, 'shop/orders', io, undefined);
      hub.connect(ref, 'shop/orders', io, undefined);
      const heartbeats = () => lines.filter((l) => l.type === 'heartbeat').length;
      vi.advanceTimersByTime(5_000); // both were sent their snapshot since: no heartbeat
      expect(heartbeats()).toBe(0);
      vi.advanceTimersByTime(5_000); // idle for a whole interval: one each
      expect(heartbeats()).toBe(2);
      await revokeIn(hub, index, 'r1'); // a delta to both
      vi.advanceTimersByTime(5_000);
      expect(heartbeats()).toBe(2);
      vi.advanceTimersByTime(5_000);
      expect(heartbeats()).toBe(4);
      hub.close();
    } finally {
      vi.useRealTimers();
    }
  });
});
