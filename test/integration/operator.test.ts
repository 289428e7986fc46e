/**
 * The operator against a real kube-apiserver: policies reconciled to a status, pods and
 * revocations counted, expired revocations collected, a restart that loses nothing. Every
 * assertion reads the state of the world back from the API server.
 */
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { OperatorHandle } from '../../src/operator/run.js';
import { freshNamespace, loadKubeConfig } from './harness/namespace.js';
import {
  REVOCATIONS,
  createPod,
  createPolicy,
  createRevocation,
  custom,
  eventsFor,
  getPolicy,
  inlineIssuer,
  metricValue,
  policyBody,
  publicJwk,
  readyOf,
  revocationBody,
  sleep,
  startJwksServer,
  startOperator,
  waitFor,
  waitForPolicy,
  type Obj,
} from './operator-support.js';

let kc: KubeConfig;
let operator: OperatorHandle | undefined;

beforeAll(() => {
  kc = loadKubeConfig();
});

afterEach(async () => {
  await operator?.stop();
  operator = undefined;
});

describe('operator reconcile', () => {
  it('reconciles a policy to Ready=True with observedGeneration, and follows spec changes', async () => {
    const ns = await freshNamespace(kc, 'op-ready');
    const registry = new Registry();
    operator = await startOperator(kc, ns, {}, registry);
    const jwk = await publicJwk();
    await createPolicy(kc, ns, policyBody('orders', inlineIssuer(jwk, 'https://auth.example.com/')));

    const p = await waitForPolicy(kc, ns, 'orders', 'Ready=True', (x) => readyOf(x).status === 'True');
    expect(readyOf(p)).toMatchObject({ reason: 'Compiled', observedGeneration: 1 });
    expect(readyOf(p).message).toContain('compiled generation 1');
    expect(p.status.observedGeneration).toBe(1);
    expect(p.status).toMatchObject({ matchedPods: 0, revocations: 0 });

    const events = await waitFor('a Compiled event', async () => {
      const list = await eventsFor(kc, ns, 'orders');
      return list.length > 0 ? list : undefined;
    });
    expect(events.map((e) => [e.type, e.reason])).toEqual([['Normal', 'Compiled']]);

    // A new generation is observed.
    await custom(kc).patchNamespacedCustomObject({
      group: 'tokenwarden.dev',
      version: 'v1alpha1',
      plural: 'tokenpolicies',
      namespace: ns,
      name: 'orders',
      body: [{ op: 'replace', path: '/spec/targetPort', value: 9090 }],
    });
    const p2 = await waitForPolicy(
      kc,
      ns,
      'orders',
      'observedGeneration 2',
      (x) => x.status?.observedGeneration === 2,
    );
    expect(readyOf(p2)).toMatchObject({ status: 'True', observedGeneration: 2 });
    // Still Ready: no second event (events on transitions only).
    expect((await eventsFor(kc, ns, 'orders')).length).toBe(1);
    expect(
      await metricValue(registry, 'tokenwarden_operator_policies', { ready: 'true' }),
    ).toBeGreaterThanOrEqual(1);
  });

  it('reports KeysUnavailable naming the issuer, then Ready once the keys can be had; no hot loop', async () => {
    const ns = await freshNamespace(kc, 'op-keys');
    const registry = new Registry();
    operator = await startOperator(kc, ns, {}, registry);
    const issuer = 'http://127.0.0.1:1/';
    await createPolicy(kc, ns, policyBody('orders', { issuer, discovery: true }));

    const bad = await waitForPolicy(
      kc,
      ns,
      'orders',
      'KeysUnavailable',
      (x) => readyOf(x).reason === 'KeysUnavailable',
    );
    expect(readyOf(bad).status).toBe('False');
    expect(readyOf(bad).message).toContain(`issuer ${issuer}`);
    expect(readyOf(bad).message).toContain('127.0.0.1:1/.well-known/openid-configuration');
    expect(
      await metricValue(registry, 'tokenwarden_operator_jwks_fetch_total', { result: 'failure' }),
    ).toBeGreaterThan(0);

    // Retries back off and write nothing while nothing changes.
    const rv = bad.metadata.resourceVersion;
    await sleep(3000);
    expect((await getPolicy(kc, ns, 'orders')).metadata.resourceVersion).toBe(rv);
    const warnings = (await eventsFor(kc, ns, 'orders')).filter((e) => e.reason === 'KeysUnavailable');
    expect(warnings.map((e) => e.type)).toEqual(['Warning']);

    // Fixed: a real JWKS server on a loopback port.
    const jwks = await startJwksServer(await publicJwk());
    try {
      await custom(kc).patchNamespacedCustomObject({
        ...{ group: 'tokenwarden.dev', version: 'v1alpha1', plural: 'tokenpolicies' },
        namespace: ns,
        name: 'orders',
        body: [
          {
            op: 'replace',
            path: '/spec/issuers/0',
            value: { issuer, audiences: ['orders-api'], jwksUri: jwks.url },
          },
        ],
      });
      const good = await waitForPolicy(kc, ns, 'orders', 'Ready=True', (x) => readyOf(x).status === 'True');
      expect(readyOf(good)).toMatchObject({ reason: 'Compiled', observedGeneration: 2 });
      expect(
        await metricValue(registry, 'tokenwarden_operator_jwks_fetch_total', { result: 'success' }),
      ).toBeGreaterThan(0);
      // Steady state: resyncs (every 2 s here) find nothing to write.
      await sleep(500);
      const settled = (await getPolicy(kc, ns, 'orders')).metadata.resourceVersion;
      await sleep(4500);
      expect((await getPolicy(kc, ns, 'orders')).metadata.resourceVersion).toBe(settled);
    } finally {
      await jwks.close();
    }
  });

  it('counts the pods a selector matches, matchExpressions included, as they come and go', async () => {
    const ns = await freshNamespace(kc, 'op-pods');
    operator = await startOperator(kc, ns);
    const jwk = await publicJwk();
    const selector = {
      matchLabels: { app: 'orders' },
      matchExpressions: [{ key: 'track', operator: 'NotIn', values: ['canary'] }],
    };
    await createPolicy(kc, ns, policyBody('orders', inlineIssuer(jwk), selector));
    await createPod(kc, ns, 'orders-1', { app: 'orders' });
    await createPod(kc, ns, 'orders-2', { app: 'orders', track: 'stable' });
    await createPod(kc, ns, 'orders-canary', { app: 'orders', track: 'canary' });
    await createPod(kc, ns, 'billing-1', { app: 'billing' });
    await waitForPolicy(kc, ns, 'orders', 'matchedPods 2', (x) => x.status?.matchedPods === 2);

    const core = kc.makeApiClient(CoreV1Api);
    await core.patchNamespacedPod({
      namespace: ns,
      name: 'billing-1',
      body: [{ op: 'replace', path: '/metadata/labels/app', value: 'orders' }],
    });
    await waitForPolicy(
      kc,
      ns,
      'orders',
      'matchedPods 3 after a relabel',
      (x) => x.status?.matchedPods === 3,
    );
    await core.deleteNamespacedPod({ namespace: ns, name: 'orders-1', gracePeriodSeconds: 0 });
    await waitForPolicy(kc, ns, 'orders', 'matchedPods 2 after a delete', (x) => x.status?.matchedPods === 2);
  });

  it('counts revocation entries per policy, writes status.entries, and collects expired revocations', async () => {
    const ns = await freshNamespace(kc, 'op-revoke');
    const registry = new Registry();
    operator = await startOperator(kc, ns, {}, registry);
    const jwk = await publicJwk();
    await createPolicy(kc, ns, policyBody('orders', inlineIssuer(jwk)));
    await createPolicy(kc, ns, policyBody('billing', inlineIssuer(jwk)));

    await createRevocation(
      kc,
      ns,
      revocationBody('for-orders', { policyName: 'orders', tokens: [{ jti: 'a' }, { jti: 'b' }] }),
    );
    const expiresAt = new Date(Date.now() + 4000).toISOString().replace(/\.\d+Z$/, 'Z');
    await createRevocation(
      kc,
      ns,
      revocationBody('everyone', { expiresAt, tokens: [{ subject: 'user-42' }] }),
    );

    await waitForPolicy(kc, ns, 'orders', 'revocations 3', (x) => x.status?.revocations === 3);
    await waitForPolicy(kc, ns, 'billing', 'revocations 1', (x) => x.status?.revocations === 1);
    const rev = await waitFor('status.entries on the revocation', async () => {
      const r = await custom(kc).getNamespacedCustomObject({
        ...REVOCATIONS,
        namespace: ns,
        name: 'for-orders',
      });
      return r.status?.entries === 2 ? (r as Obj) : undefined;
    });
    expect(readyOf(rev)).toMatchObject({ status: 'True', reason: 'Accepted' });

    // Past expiresAt the leader deletes it, and the counts drop.
    await waitFor(
      'the expired revocation to be deleted',
      async () => {
        const list = await custom(kc).listNamespacedCustomObject({ ...REVOCATIONS, namespace: ns });
        return Boolean(list.items.every((r: Obj) => r.metadata.name !== 'everyone'));
      },
      15_000,
    );
    await waitForPolicy(kc, ns, 'orders', 'revocations 2', (x) => x.status?.revocations === 2);
    await waitForPolicy(kc, ns, 'billing', 'revocations 0', (x) => x.status?.revocations === 0);
    expect(await metricValue(registry, 'tokenwarden_operator_revocations_collected_total')).toBe(1);
  });

  it('loses nothing across a restart: changes made while it was down are reconciled', async () => {
    const ns = await freshNamespace(kc, 'op-restart');
    operator = await startOperator(kc, ns);
    const jwk = await publicJwk();
    await createPolicy(kc, ns, policyBody('orders', inlineIssuer(jwk)));
    await waitForPolicy(kc, ns, 'orders', 'Ready', (x) => readyOf(x).status === 'True');
    await operator.stop();
    operator = undefined;

    // While it is down: a pod, a revocation, a new policy, a spec change.
    await createPod(kc, ns, 'orders-1', { app: 'orders' });
    await createRevocation(kc, ns, revocationBody('r', { tokens: [{ jti: 'x' }] }));
    await createPolicy(kc, ns, policyBody('late', inlineIssuer(jwk)));
    await custom(kc).patchNamespacedCustomObject({
      ...{ group: 'tokenwarden.dev', version: 'v1alpha1', plural: 'tokenpolicies' },
      namespace: ns,
      name: 'orders',
      body: [{ op: 'replace', path: '/spec/targetPort', value: 9090 }],
    });
    await sleep(500);
    expect((await getPolicy(kc, ns, 'late')).status).toBeUndefined();

    operator = await startOperator(kc, ns);
    const orders = await waitForPolicy(
      kc,
      ns,
      'orders',
      'generation 2 with the pod and revocation counted',
      (x) => x.status?.observedGeneration === 2 && x.status?.matchedPods === 1 && x.status?.revocations === 1,
    );
    expect(readyOf(orders).status).toBe('True');
    const late = await waitForPolicy(kc, ns, 'late', 'Ready', (x) => readyOf(x).status === 'True');
    expect(late.status).toMatchObject({ observedGeneration: 1, matchedPods: 1, revocations: 1 });
  });
});
