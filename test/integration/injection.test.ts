/**
 * Sidecar injection end to end on a real kube-apiserver (the world: injection-support.ts): the
 * chart's webhook registration calls the real webhook plugin; Pods are created through the API
 * and the stored Pods are checked, then the operator counts the unprotected ones. Pods refused in
 * a strict namespace: injection-refuses.test.ts.
 */
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { SEAL_SECRET } from '../../src/operator/webhook/seal-key.js';
import { JSON_PATCH, initNames, podBody, refusal, useInjectionWorld } from './injection-support.js';
import {
  eventsFor,
  metricValue,
  startOperator,
  waitFor,
  waitForPolicy,
  type Obj,
} from './operator-support.js';

const w = useInjectionWorld();

describe('the injection webhook, registered from the chart', () => {
  it('stores a matching pod in a labelled namespace with the capture init container and the sidecar', async () => {
    const pod = await w.core.createNamespacedPod({ namespace: w.labelled, body: podBody('orders-1') });
    expect(initNames(pod)).toEqual(['tokenwarden-capture', 'tokenwarden-sidecar']);
    const [capture, sidecar] = pod.spec!.initContainers!;
    expect(capture!.args).toEqual([
      'capture',
      '--target-port',
      '8080',
      '--proxy-port',
      '15080',
      '--proxy-uid',
      '15080',
    ]);
    expect(sidecar!.args).toEqual(
      expect.arrayContaining(['--listen', '[::]:15080', '--admin-listen', '[::]:15090']),
    );
    expect(pod.metadata?.annotations?.['tokenwarden.dev/seal']).toMatch(/^v1\./);
    expect(capture!.securityContext?.capabilities).toEqual({ add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] });
    expect(sidecar!.restartPolicy).toBe('Always');
    expect(sidecar!.args).toContain(`http://127.0.0.1:8080`);
    expect(sidecar!.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 15080,
      readOnlyRootFilesystem: true,
    });
    expect(pod.spec!.volumes!.map((v) => v.name)).toEqual(
      expect.arrayContaining(['tokenwarden-token', 'tokenwarden-state']),
    );
    expect(pod.metadata?.annotations?.['tokenwarden.dev/injected']).toBe('0.1.0');
    // The app container is as it was.
    expect(pod.spec!.containers.map((c) => [c.name, c.ports?.[0]?.name])).toEqual([['app', 'http']]);
  });

  it('takes over the named port in no-privilege mode (tokenwarden.dev/capture: none) in a permissive namespace', async () => {
    const pod = await w.core.createNamespacedPod({
      namespace: w.permissive,
      body: podBody('orders-none', { annotations: { 'tokenwarden.dev/capture': 'none' } }),
    });
    expect(initNames(pod)).toEqual(['tokenwarden-sidecar']);
    expect(pod.spec!.initContainers![0]!.ports?.[0]).toMatchObject({ name: 'http', containerPort: 15080 });
    expect(pod.spec!.containers[0]!.ports?.[0]).toMatchObject({ name: 'tw-app-8080', containerPort: 8080 });
  });

  it.each([
    [
      'an opted-out pod of a permissive namespace',
      () => ({
        ns: w.permissive,
        body: podBody('opted-out', { annotations: { 'tokenwarden.dev/inject': 'false' } }),
      }),
    ],
    ['a pod in an unlabelled namespace', () => ({ ns: w.unlabelled, body: podBody('unlabelled') })],
    [
      'a pod no policy selects',
      () => ({ ns: w.labelled, body: podBody('other', { labels: { app: 'billing' } }) }),
    ],
  ])('leaves %s untouched', async (_name, make) => {
    const { ns, body } = make();
    const pod = await w.core.createNamespacedPod({ namespace: ns, body });
    expect(pod.spec?.initContainers).toBeUndefined();
    expect(pod.metadata?.annotations?.['tokenwarden.dev/injected']).toBeUndefined();
    expect(pod.spec?.volumes ?? []).toEqual([]);
  });

  it('refuses an UPDATE that swaps the injected sidecar or capture image, or drops the seal', async () => {
    const pod = await w.core.createNamespacedPod({ namespace: w.labelled, body: podBody('tamper') });
    const seal = pod.metadata!.annotations!['tokenwarden.dev/seal']!;
    const patch = (body: object[]) =>
      refusal(w.core.patchNamespacedPod({ namespace: w.labelled, name: 'tamper', body }, JSON_PATCH));
    for (const i of [0, 1]) {
      const err = await patch([
        { op: 'replace', path: `/spec/initContainers/${i}/image`, value: 'registry.k8s.io/pause:3.10' },
      ]);
      expect(err?.code).toBe(403);
      expect(String(err?.body)).toMatch(/changes what the tokenwarden webhook injected/);
    }
    const dropped = await patch([{ op: 'remove', path: '/metadata/annotations/tokenwarden.dev~1seal' }]);
    expect(dropped?.code).toBe(403);
    // Removing the sidecar outright: the webhook refuses it before the API server's own
    // validation (pod spec is immutable) would.
    const removed = await patch([{ op: 'remove', path: '/spec/initContainers/1' }]);
    expect(removed?.code).toBe(403);
    // Updates that leave the injection alone go through.
    expect(await patch([{ op: 'add', path: '/metadata/labels/extra', value: 'yes' }])).toBeUndefined();
    const after = await w.core.readNamespacedPod({ namespace: w.labelled, name: 'tamper' });
    expect(after.spec!.initContainers!.map((c) => c.image)).toEqual(
      pod.spec!.initContainers!.map((c) => c.image),
    );
    expect(after.metadata!.annotations!['tokenwarden.dev/seal']).toBe(seal);
  });

  it('refuses an ephemeral container with NET_ADMIN in an injected pod; a plain debug container is added', async () => {
    const pod = await w.core.createNamespacedPod({ namespace: w.labelled, body: podBody('debugged') });
    const add = (name: string, securityContext?: object) =>
      refusal(
        w.core.patchNamespacedPodEphemeralcontainers(
          {
            namespace: w.labelled,
            name: 'debugged',
            body: [
              {
                op: 'add',
                path: '/spec/ephemeralContainers',
                value: [
                  {
                    name,
                    image: 'registry.k8s.io/pause:3.10',
                    ...(securityContext ? { securityContext } : {}),
                  },
                ],
              },
            ],
          },
          JSON_PATCH,
        ),
      );
    expect(pod.spec!.ephemeralContainers).toBeUndefined();
    const err = await add('netadmin', { capabilities: { add: ['NET_ADMIN'] } });
    expect(err?.code).toBe(403);
    expect(String(err?.body)).toMatch(/NET_ADMIN/);
    expect(await add('plain')).toBeUndefined();
  });

  it('lets a permissive namespace run a look-alike and an unsafe container (counted below)', async () => {
    const lookalike = await w.core.createNamespacedPod({
      namespace: w.permissive,
      body: podBody('perm-lookalike', {
        spec: { initContainers: [{ name: 'tokenwarden-sidecar', image: 'registry.k8s.io/pause:3.10' }] },
      }),
    });
    expect(initNames(lookalike)).toEqual(['tokenwarden-sidecar']);
    const unsafe = await w.core.createNamespacedPod({
      namespace: w.permissive,
      body: podBody('perm-unsafe', { spec: { shareProcessNamespace: true } }),
    });
    expect(initNames(unsafe)).toEqual(['tokenwarden-capture', 'tokenwarden-sidecar']);
  });

  it('counts every unprotected pod with its reason in status, metrics and an Event', async () => {
    const registry = new Registry();
    w.operator = await startOperator(w.admin, w.opNs, {}, registry);
    // The operator found the key the webhook made (same namespace), so its injections are sealed.
    await w.core.readNamespacedSecret({ namespace: w.opNs, name: SEAL_SECRET });
    const p = await waitForPolicy(
      w.admin,
      w.unlabelled,
      'orders',
      'unprotectedPods 1',
      (x) => x.status?.unprotectedPods === 1,
      30_000,
    );
    expect(p.status.matchedPods).toBe(1);
    expect(p.status.unprotectedByReason).toEqual({ no_sidecar: 1 });
    await waitFor('an UnprotectedPods Event', async () => {
      const e = (await eventsFor(w.admin, w.unlabelled, 'orders')).find(
        (x) => x.reason === 'UnprotectedPods',
      );
      return e?.message?.includes('unlabelled (no_sidecar)') ? e : undefined;
    });
    // Permissive: the opted-out pod, the capture-off pod, the look-alike and the unsafe one.
    const want = { opted_out: 1, capture_off: 1, lookalike: 1, unsafe_app_container: 1 };
    const q = await waitForPolicy(
      w.admin,
      w.permissive,
      'orders',
      'every reason counted',
      (x) => x.status?.unprotectedPods === 4,
      30_000,
    );
    expect(q.status.unprotectedByReason).toEqual(want);
    expect(q.status.unprotectedPods).toBe(4);
    await waitFor('an UnprotectedPods Event naming the opted-out pod', async () => {
      const e = (await eventsFor(w.admin, w.permissive, 'orders')).find(
        (x) => x.reason === 'UnprotectedPods',
      );
      return e?.message?.includes('opted-out (opted_out)') ? e : undefined;
    });
    for (const [reason, n] of Object.entries(want)) {
      expect(
        await metricValue(registry, 'tokenwarden_operator_unprotected_pods', {
          namespace: w.permissive,
          policy: 'orders',
          reason,
        }),
      ).toBe(n);
    }
    // In the strict namespace every selected pod that exists was injected and sealed.
    const r = await waitForPolicy(
      w.admin,
      w.labelled,
      'orders',
      'status written',
      (x) => x.status?.matchedPods >= 3,
    );
    expect(r.status.unprotectedPods).toBe(0);
    expect(r.status.unprotectedByReason).toEqual({});
  });

  // Last: it stops the webhook server.
  it('refuses pod creation in a labelled namespace while the webhook is down (failurePolicy Fail)', async () => {
    expect((w.webhookConfig.webhooks[0] as Obj).failurePolicy).toBe('Fail');
    await w.server!.close();
    w.server = undefined;
    const err = await w.core.createNamespacedPod({ namespace: w.labelled, body: podBody('while-down') }).then(
      () => undefined,
      (e: unknown) => e as { code?: number; body?: string },
    );
    expect(err?.code).toBeGreaterThanOrEqual(500);
    expect(String(err?.body)).toMatch(/failed calling webhook/);
    // Namespaces without the label are not affected.
    const ok = await w.core.createNamespacedPod({ namespace: w.unlabelled, body: podBody('while-down') });
    expect(ok.metadata?.name).toBe('while-down');
  });
});
