/**
 * What the injection webhook refuses in a strict namespace, on a real kube-apiserver (the world:
 * injection-support.ts): a pod whose app port collides with the sidecar's, look-alike sidecars,
 * app containers that could reach around the sidecar, and pod authors opting out.
 */
import { describe, expect, it } from 'vitest';
import { podBody, refusal, useInjectionWorld } from './injection-support.js';

const w = useInjectionWorld();

describe('the injection webhook, registered from the chart', () => {
  it('refuses a pod whose app port collides with the sidecar, naming the port', async () => {
    const err = await w.core
      .createNamespacedPod({ namespace: w.labelled, body: podBody('collides', { port: 15090 }) })
      .then(
        () => undefined,
        (e: unknown) => e as { code?: number; body?: string },
      );
    expect(err?.code).toBe(403);
    expect(String(err?.body)).toContain('15090');
    expect(String(err?.body)).toContain('denied the request');
  });

  it.each([
    [
      'a look-alike init container named tokenwarden-sidecar',
      () =>
        podBody('lookalike-init', {
          spec: { initContainers: [{ name: 'tokenwarden-sidecar', image: 'registry.k8s.io/pause:3.10' }] },
        }),
      /did not inject/,
    ],
    [
      'a forged seal next to a look-alike sidecar',
      () =>
        podBody('forged-seal', {
          annotations: {
            'tokenwarden.dev/seal': 'v1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
            'tokenwarden.dev/injected': '0.1.0',
          },
          spec: {
            initContainers: [
              { name: 'tokenwarden-sidecar', image: 'registry.k8s.io/pause:3.10', restartPolicy: 'Always' },
            ],
          },
        }),
      /did not inject/,
    ],
    [
      'an app container with NET_ADMIN',
      () => podBody('net-admin', { app: { securityContext: { capabilities: { add: ['NET_ADMIN'] } } } }),
      /NET_ADMIN/,
    ],
    [
      "an app container running as the sidecar's UID",
      () => podBody('uid-15080', { app: { securityContext: { runAsUser: 15080 } } }),
      /15080/,
    ],
    [
      'a shared process namespace',
      () => podBody('shared-pid', { spec: { shareProcessNamespace: true } }),
      /shareProcessNamespace/,
    ],
    [
      "an app container mounting the sidecar's token volume",
      () =>
        podBody('token-mount', { app: { volumeMounts: [{ name: 'tokenwarden-token', mountPath: '/t' }] } }),
      /tokenwarden-token/,
    ],
    [
      'a pod author opting out',
      () => podBody('author-opt-out', { annotations: { 'tokenwarden.dev/inject': 'false' } }),
      /does not allow opting out/,
    ],
    [
      'a pod author turning capture off',
      () => podBody('author-capture-off', { annotations: { 'tokenwarden.dev/capture': 'none' } }),
      /not allowed in this namespace/,
    ],
  ])('refuses %s in a strict namespace', async (_name, make, says) => {
    const err = await refusal(w.core.createNamespacedPod({ namespace: w.labelled, body: make() }));
    expect(err?.code).toBe(403);
    expect(String(err?.body)).toMatch(says);
  });
});
