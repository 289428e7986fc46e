/**
 * Replica summaries under the chart's Role (get and patch on the one ConfigMap
 * tokenwarden-replicas): the operator, running as a ServiceAccount bound to the chart's rules
 * (rbac-support.ts), publishes, merges and expires summaries there, and reaches no other
 * ConfigMap.
 */
import { CoreV1Api } from '@kubernetes/client-node';
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { ReplicaStore } from '../../src/operator/stream/replica-store.js';
import { REPLICAS_CONFIGMAP, makeSummary, replicaKey } from '../../src/operator/stream/summary.js';
import { freshNamespace } from './harness/namespace.js';
import {
  createPolicy,
  getPolicy,
  impersonating,
  inlineIssuer,
  policyBody,
  publicJwk,
  readyOf,
  startOperator,
  waitFor,
  waitForPolicy,
  type Obj,
} from './operator-support.js';
import { clusterRules, serviceAccountWith, statusOf, useRbacWorld } from './rbac-support.js';

const w = useRbacWorld();

describe('replica summaries under the chart Role (get and patch on tokenwarden-replicas only)', () => {
  it('publish, merge into status and expire in the one ConfigMap; no other ConfigMap is reachable', async () => {
    const { ns: saNs, user } = await serviceAccountWith(w.admin, clusterRules);
    const adminCore = w.admin.makeApiClient(CoreV1Api);
    await adminCore.createNamespacedConfigMap({
      namespace: saNs,
      body: { metadata: { name: 'other' }, data: { 'settings.json': '{}' } },
    });
    const saKc = impersonating(w.admin, user);
    w.operator = await startOperator(saKc, saNs);
    await waitFor('the operator to lead', () => Promise.resolve(w.operator!.isLeader()));
    const ns = await freshNamespace(w.admin, 'rbac-replicas');
    await createPolicy(w.admin, ns, policyBody('orders', inlineIssuer(await publicJwk())));
    await waitForPolicy(w.admin, ns, 'orders', 'Ready=True', (x) => readyOf(x).status === 'True');

    // A second replica under the same ServiceAccount writes its key; a dead one left a stale key.
    const store = new ReplicaStore(saKc.makeApiClient(CoreV1Api), saNs);
    const policies = new Map([[`${ns}/orders`, { version: 'v', connected: 3, synced: 3 }]]);
    const write = () =>
      store.write(
        replicaKey('replica-b'),
        JSON.stringify(makeSummary('replica-b', Date.now(), policies, new Map())),
      );
    await write();
    const dead = JSON.stringify(makeSummary('replica-dead', Date.now() - 120_000, new Map(), new Map()));
    await store.write(replicaKey('replica-dead'), dead);

    const own = replicaKey(`${hostname()}_${process.pid}`);
    await waitFor('own key beside replica-b, the dead key removed', async () => {
      const keys = Object.keys(await store.readAll());
      return keys.includes(own) && keys.includes('replica-b.json') && !keys.includes('replica-dead.json');
    });
    await waitFor("status to count replica-b's three synced sidecars", async () => {
      await write(); // stays fresh (a summary older than 30 s is ignored)
      const p: Obj = await getPolicy(w.admin, ns, 'orders');
      return p.status?.syncedSidecars === 3;
    });

    // Nothing else: no other ConfigMap read, listed, created, changed or deleted, nor this one deleted.
    const sa = saKc.makeApiClient(CoreV1Api);
    const other = { metadata: { name: 'other' }, data: { 'settings.json': '{"image":"evil"}' } };
    expect(await statusOf(sa.readNamespacedConfigMap({ namespace: saNs, name: 'other' }))).toBe(403);
    expect(await statusOf(sa.listNamespacedConfigMap({ namespace: saNs }))).toBe(403);
    expect(
      await statusOf(sa.createNamespacedConfigMap({ namespace: saNs, body: { metadata: { name: 'x' } } })),
    ).toBe(403);
    expect(
      await statusOf(sa.replaceNamespacedConfigMap({ namespace: saNs, name: 'other', body: other })),
    ).toBe(403);
    expect(await statusOf(sa.deleteNamespacedConfigMap({ namespace: saNs, name: 'other' }))).toBe(403);
    expect(await statusOf(new ReplicaStore(sa, saNs, 'other').write('k.json', 'x'))).toBe(403);
    expect(await statusOf(new ReplicaStore(sa, saNs, 'fresh').write('k.json', 'x'))).toBe(403);
    expect(await statusOf(sa.deleteNamespacedConfigMap({ namespace: saNs, name: REPLICAS_CONFIGMAP }))).toBe(
      403,
    );
    expect((await adminCore.readNamespacedConfigMap({ namespace: saNs, name: 'other' })).data).toEqual({
      'settings.json': '{}',
    });

    // Server-side apply of a missing object needs `create`: deleted, not even this one comes back.
    await adminCore.deleteNamespacedConfigMap({ namespace: saNs, name: REPLICAS_CONFIGMAP });
    expect(await statusOf(store.write('k.json', 'x'))).toBe(403);
    await adminCore.createNamespacedConfigMap({
      namespace: saNs,
      body: { metadata: { name: REPLICAS_CONFIGMAP } },
    });
    await write();
    // A replica that stops removes its own key and nobody else's.
    await w.operator.stop();
    w.operator = undefined;
    const left = Object.keys(await store.readAll());
    expect(left).toContain('replica-b.json');
    expect(left).not.toContain(own);
  });
});
