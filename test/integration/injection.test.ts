/**
 * Sidecar injection end to end on a real kube-apiserver: the chart's MutatingWebhookConfiguration
 * (clientConfig rewritten to this test's HTTPS server and CA) calls the real webhook plugin, fed
 * by a real TokenPolicy informer and the chart's injection ConfigMap; Pods are created through
 * the API and the stored Pods are checked. Pods stay Pending (no kubelet): what is stored is
 * what a kubelet would run.
 */
import { CoreV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import Fastify, { type FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseInjectionConfig } from '../../src/config/injection.js';
import { createLogger } from '../../src/log/logger.js';
import { createInformers, type Informers } from '../../src/operator/runtime/informers.js';
import { MERGE_PATCH } from '../../src/operator/runtime/k8s.js';
import type { OperatorHandle } from '../../src/operator/run.js';
import { PolicyCatalog } from '../../src/operator/policy/catalog.js';
import { createInjection } from '../../src/operator/webhook/wiring.js';
import { applyObject, deleteObject, renderChart } from './chart-support.js';
import { issueServingCert } from './harness/certs.js';
import { freshNamespace, loadKubeConfig } from './harness/namespace.js';
import {
  createPolicy,
  eventsFor,
  policyBody,
  publicJwk,
  startOperator,
  suffix,
  waitFor,
  waitForPolicy,
  type Obj,
} from './operator-support.js';

const silent = createLogger('test', { level: 'silent' });
const APP = { app: 'orders' };

let admin: KubeConfig;
let core: CoreV1Api;
let informers: Informers;
let server: FastifyInstance | undefined;
let webhookConfig: Obj;
let operator: OperatorHandle | undefined;
let labelled: string;
let unlabelled: string;

function podBody(
  name: string,
  opts: { annotations?: Record<string, string>; labels?: Record<string, string>; port?: number } = {},
): V1Pod {
  return {
    metadata: {
      name,
      labels: opts.labels ?? APP,
      ...(opts.annotations ? { annotations: opts.annotations } : {}),
    },
    spec: {
      // A cluster's ServiceAccount admission plugin sets this before webhooks run; the test control
      // plane runs without it, and a projected token needs it.
      serviceAccountName: 'default',
      containers: [
        {
          name: 'app',
          image: 'registry.k8s.io/pause:3.10',
          ports: [{ name: 'http', containerPort: opts.port ?? 8080 }],
        },
      ],
    },
  };
}

async function namespaceWith(prefix: string, labels: Record<string, string>): Promise<string> {
  const ns = await freshNamespace(admin, prefix);
  await core.patchNamespace(
    { name: ns, body: { metadata: { labels } } },
    // Merge patch: the labels are added to the test label freshNamespace set.
    MERGE_PATCH,
  );
  return ns;
}

async function policyIn(ns: string): Promise<void> {
  await createPolicy(
    admin,
    ns,
    policyBody('orders', { issuer: 'https://a.example/', jwks: { keys: [await publicJwk()] } }),
  );
  await waitFor('the policy in the informer cache', () =>
    Promise.resolve(informers.policies.cache.get('orders', ns) !== undefined),
  );
}

const initNames = (pod: V1Pod): string[] => (pod.spec?.initContainers ?? []).map((c) => c.name);

beforeAll(async () => {
  admin = loadKubeConfig();
  core = admin.makeApiClient(CoreV1Api);
  const release = `tw-inj-${suffix()}`;
  const system = await freshNamespace(admin, 'tw-system');
  const objects = await renderChart(release, system);
  const injectionMap = objects.find(
    (o) => o.kind === 'ConfigMap' && String(o.metadata.name).endsWith('-injection'),
  )!;
  const file = parseInjectionConfig(injectionMap.data['injection.json'] as string);
  expect(file.controlPlaneUrl).toBe(`https://tokenwarden.${system}.svc:15443`);

  informers = createInformers(admin, silent);
  await informers.policies.start();
  await waitFor('the policy informer to sync', () => Promise.resolve(informers.policies.synced()));

  webhookConfig = objects.find((o) => o.kind === 'MutatingWebhookConfiguration')!;
  const cert = await issueServingCert(['127.0.0.1']);
  // What the operator runs (wiring.ts): the plugin, and the certificate hook that syncs the caBundle.
  const injection = createInjection({
    kc: admin,
    config: file,
    webhookConfiguration: webhookConfig.metadata.name as string,
    catalog: new PolicyCatalog(informers.policies.cache),
    policiesSynced: () => informers.policies.synced(),
    log: silent,
    registry: new Registry(),
    version: '0.1.0',
  });
  server = Fastify({ https: { key: cert.keyPem, cert: cert.certPem } });
  await server.register(injection.plugin);
  await server.listen({ host: '127.0.0.1', port: 0 });
  const { port } = server.server.address() as AddressInfo;

  const hook = webhookConfig.webhooks[0] as Obj;
  expect(hook.clientConfig.service).toEqual({
    name: 'tokenwarden',
    namespace: system,
    path: '/inject',
    port: 443,
  });
  // The test's server instead of the Service; no caBundle: the certificate hook writes it.
  hook.clientConfig = { url: `https://127.0.0.1:${port}/inject` };
  await applyObject(admin, webhookConfig);
  expect(await injection.onCertificate(cert.caPem)).toBe('updated');

  labelled = await namespaceWith('inj-on', { 'tokenwarden.dev/injection': 'enabled' });
  unlabelled = await freshNamespace(admin, 'inj-off');
  await policyIn(labelled);
  await policyIn(unlabelled);
  // The API server loads webhook configurations through its own informer: wait until it calls us.
  await waitFor(
    'the API server to call the webhook',
    async () => {
      const probe = await core
        .createNamespacedPod({ namespace: labelled, body: podBody('probe'), dryRun: 'All' })
        .catch((e: unknown) => {
          // An injected pod the API server refuses: say why.
          throw new Error(String((e as { body?: unknown }).body ?? e));
        });
      return initNames(probe).includes('tokenwarden-sidecar');
    },
    30_000,
  );
});

afterAll(async () => {
  await operator?.stop();
  if (webhookConfig) await deleteObject(admin, webhookConfig);
  await server?.close();
  await informers?.policies.stop();
});

describe('the injection webhook, registered from the chart', () => {
  it('stores a matching pod in a labelled namespace with the capture init container and the sidecar', async () => {
    const pod = await core.createNamespacedPod({ namespace: labelled, body: podBody('orders-1') });
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

  it('takes over the named port in no-privilege mode (tokenwarden.dev/capture: none)', async () => {
    const pod = await core.createNamespacedPod({
      namespace: labelled,
      body: podBody('orders-none', { annotations: { 'tokenwarden.dev/capture': 'none' } }),
    });
    expect(initNames(pod)).toEqual(['tokenwarden-sidecar']);
    expect(pod.spec!.initContainers![0]!.ports?.[0]).toMatchObject({ name: 'http', containerPort: 15080 });
    expect(pod.spec!.containers[0]!.ports?.[0]).toMatchObject({ name: 'tw-app-8080', containerPort: 8080 });
  });

  it.each([
    [
      'an opted-out pod',
      () => ({
        ns: labelled,
        body: podBody('opted-out', { annotations: { 'tokenwarden.dev/inject': 'false' } }),
      }),
    ],
    ['a pod in an unlabelled namespace', () => ({ ns: unlabelled, body: podBody('unlabelled') })],
    [
      'a pod no policy selects',
      () => ({ ns: labelled, body: podBody('other', { labels: { app: 'billing' } }) }),
    ],
  ])('leaves %s untouched', async (_name, make) => {
    const { ns, body } = make();
    const pod = await core.createNamespacedPod({ namespace: ns, body });
    expect(pod.spec?.initContainers).toBeUndefined();
    expect(pod.metadata?.annotations?.['tokenwarden.dev/injected']).toBeUndefined();
    expect(pod.spec?.volumes ?? []).toEqual([]);
  });

  it('refuses a pod whose app port collides with the sidecar, naming the port', async () => {
    const err = await core
      .createNamespacedPod({ namespace: labelled, body: podBody('collides', { port: 15090 }) })
      .then(
        () => undefined,
        (e: unknown) => e as { code?: number; body?: string },
      );
    expect(err?.code).toBe(403);
    expect(String(err?.body)).toContain('15090');
    expect(String(err?.body)).toContain('denied the request');
  });

  it('counts the unprotected pod of the unlabelled namespace in its policy status, with an Event', async () => {
    const opNs = await freshNamespace(admin, 'inj-op');
    operator = await startOperator(admin, opNs);
    const p = await waitForPolicy(
      admin,
      unlabelled,
      'orders',
      'unprotectedPods 1',
      (x) => x.status?.unprotectedPods === 1,
      30_000,
    );
    expect(p.status.matchedPods).toBe(1);
    await waitFor('an UnprotectedPods Event', async () => {
      const e = (await eventsFor(admin, unlabelled, 'orders')).find((x) => x.reason === 'UnprotectedPods');
      return e?.message?.includes('unlabelled') ? e : undefined;
    });
    // In the labelled namespace every selected pod (but the opted-out one, by choice) has the sidecar.
    const q = await waitForPolicy(
      admin,
      labelled,
      'orders',
      'status written',
      (x) => x.status?.matchedPods >= 3,
    );
    expect(q.status.unprotectedPods).toBe(0);
  });

  // Last: it stops the webhook server.
  it('refuses pod creation in a labelled namespace while the webhook is down (failurePolicy Fail)', async () => {
    expect((webhookConfig.webhooks[0] as Obj).failurePolicy).toBe('Fail');
    await server!.close();
    server = undefined;
    const err = await core.createNamespacedPod({ namespace: labelled, body: podBody('while-down') }).then(
      () => undefined,
      (e: unknown) => e as { code?: number; body?: string },
    );
    expect(err?.code).toBeGreaterThanOrEqual(500);
    expect(String(err?.body)).toMatch(/failed calling webhook/);
    // Namespaces without the label are not affected.
    const ok = await core.createNamespacedPod({ namespace: unlabelled, body: podBody('while-down') });
    expect(ok.metadata?.name).toBe('while-down');
  });
});
