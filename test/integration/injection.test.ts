/**
 * Sidecar injection end to end on a real kube-apiserver: the chart's MutatingWebhookConfiguration
 * (clientConfig rewritten to this test's HTTPS server and CA) calls the real webhook plugin, fed
 * by a real TokenPolicy informer and the chart's injection ConfigMap; Pods are created through
 * the API and the stored Pods are checked. Pods stay Pending (no kubelet): what is stored is
 * what a kubelet would run.
 */
import {
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type V1Container,
  type V1Pod,
} from '@kubernetes/client-node';
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
import { loadSealKey, SEAL_SECRET } from '../../src/operator/webhook/seal-key.js';
import { createInjection } from '../../src/operator/webhook/wiring.js';
import { applyObject, deleteObject, renderChart } from './chart-support.js';
import { issueServingCert } from './harness/certs.js';
import { freshNamespace, loadKubeConfig } from './harness/namespace.js';
import {
  createPolicy,
  eventsFor,
  metricValue,
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
let permissive: string;
/** The operator's namespace: the webhook here and the operator started later share its seal key. */
let opNs: string;
const JSON_PATCH = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);

function podBody(
  name: string,
  opts: {
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
    port?: number;
    app?: Partial<V1Container>;
    spec?: Partial<V1Pod['spec']>;
  } = {},
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
          ...opts.app,
        },
      ],
      ...opts.spec,
    },
  };
}

/** The API server's refusal of a pod create or update, or undefined when it was accepted. */
async function refusal(p: Promise<unknown>): Promise<{ code?: number; body?: string } | undefined> {
  return p.then(
    () => undefined,
    (e: unknown) => e as { code?: number; body?: string },
  );
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
    (o) => o.kind === 'Secret' && String(o.metadata.name).endsWith('-injection'),
  )!;
  const file = parseInjectionConfig(injectionMap.stringData['injection.json'] as string);
  expect(file.controlPlaneUrl).toBe(`https://tokenwarden.${system}.svc:15443`);

  opNs = await freshNamespace(admin, 'inj-op');
  const sealKey = await loadSealKey(core, opNs, silent);
  // Loaded again: the same key (read, not re-created).
  expect(await loadSealKey(core, opNs, silent)).toEqual(sealKey);

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
    sealKey,
  });
  server = Fastify({ https: { key: cert.keyPem, cert: cert.certPem } });
  await server.register(injection.plugin);
  await server.listen({ host: '127.0.0.1', port: 0 });
  const { port } = server.server.address() as AddressInfo;

  const hooks = webhookConfig.webhooks as Obj[];
  expect(hooks.map((h): unknown => h.clientConfig.service)).toEqual([
    { name: 'tokenwarden', namespace: system, path: '/inject', port: 443 },
    { name: 'tokenwarden', namespace: system, path: '/inject/permissive', port: 443 },
  ]);
  // The test's server instead of the Service; no caBundle: the certificate hook writes it.
  for (const hook of hooks) {
    hook.clientConfig = { url: `https://127.0.0.1:${port}${hook.clientConfig.service.path}` };
  }
  await applyObject(admin, webhookConfig);
  expect(await injection.onCertificate(cert.caPem)).toBe('updated');

  labelled = await namespaceWith('inj-on', { 'tokenwarden.dev/injection': 'enabled' });
  unlabelled = await freshNamespace(admin, 'inj-off');
  permissive = await namespaceWith('inj-perm', {
    'tokenwarden.dev/injection': 'enabled',
    'tokenwarden.dev/injection-policy': 'permissive',
  });
  await policyIn(labelled);
  await policyIn(unlabelled);
  await policyIn(permissive);
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
    const pod = await core.createNamespacedPod({
      namespace: permissive,
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
        ns: permissive,
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
    const err = await refusal(core.createNamespacedPod({ namespace: labelled, body: make() }));
    expect(err?.code).toBe(403);
    expect(String(err?.body)).toMatch(says);
  });

  it('refuses an UPDATE that swaps the injected sidecar or capture image, or drops the seal', async () => {
    const pod = await core.createNamespacedPod({ namespace: labelled, body: podBody('tamper') });
    const seal = pod.metadata!.annotations!['tokenwarden.dev/seal']!;
    const patch = (body: object[]) =>
      refusal(core.patchNamespacedPod({ namespace: labelled, name: 'tamper', body }, JSON_PATCH));
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
    const after = await core.readNamespacedPod({ namespace: labelled, name: 'tamper' });
    expect(after.spec!.initContainers!.map((c) => c.image)).toEqual(
      pod.spec!.initContainers!.map((c) => c.image),
    );
    expect(after.metadata!.annotations!['tokenwarden.dev/seal']).toBe(seal);
  });

  it('refuses an ephemeral container with NET_ADMIN in an injected pod; a plain debug container is added', async () => {
    const pod = await core.createNamespacedPod({ namespace: labelled, body: podBody('debugged') });
    const add = (name: string, securityContext?: object) =>
      refusal(
        core.patchNamespacedPodEphemeralcontainers(
          {
            namespace: labelled,
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
    const lookalike = await core.createNamespacedPod({
      namespace: permissive,
      body: podBody('perm-lookalike', {
        spec: { initContainers: [{ name: 'tokenwarden-sidecar', image: 'registry.k8s.io/pause:3.10' }] },
      }),
    });
    expect(initNames(lookalike)).toEqual(['tokenwarden-sidecar']);
    const unsafe = await core.createNamespacedPod({
      namespace: permissive,
      body: podBody('perm-unsafe', { spec: { shareProcessNamespace: true } }),
    });
    expect(initNames(unsafe)).toEqual(['tokenwarden-capture', 'tokenwarden-sidecar']);
  });

  it('counts every unprotected pod with its reason in status, metrics and an Event', async () => {
    const registry = new Registry();
    operator = await startOperator(admin, opNs, {}, registry);
    // The operator found the key the webhook made (same namespace), so its injections are sealed.
    await core.readNamespacedSecret({ namespace: opNs, name: SEAL_SECRET });
    const p = await waitForPolicy(
      admin,
      unlabelled,
      'orders',
      'unprotectedPods 1',
      (x) => x.status?.unprotectedPods === 1,
      30_000,
    );
    expect(p.status.matchedPods).toBe(1);
    expect(p.status.unprotectedByReason).toEqual({ no_sidecar: 1 });
    await waitFor('an UnprotectedPods Event', async () => {
      const e = (await eventsFor(admin, unlabelled, 'orders')).find((x) => x.reason === 'UnprotectedPods');
      return e?.message?.includes('unlabelled (no_sidecar)') ? e : undefined;
    });
    // Permissive: the opted-out pod, the capture-off pod, the look-alike and the unsafe one.
    const want = { opted_out: 1, capture_off: 1, lookalike: 1, unsafe_app_container: 1 };
    const q = await waitForPolicy(
      admin,
      permissive,
      'orders',
      'every reason counted',
      (x) => x.status?.unprotectedPods === 4,
      30_000,
    );
    expect(q.status.unprotectedByReason).toEqual(want);
    expect(q.status.unprotectedPods).toBe(4);
    await waitFor('an UnprotectedPods Event naming the opted-out pod', async () => {
      const e = (await eventsFor(admin, permissive, 'orders')).find((x) => x.reason === 'UnprotectedPods');
      return e?.message?.includes('opted-out (opted_out)') ? e : undefined;
    });
    for (const [reason, n] of Object.entries(want)) {
      expect(
        await metricValue(registry, 'tokenwarden_operator_unprotected_pods', {
          namespace: permissive,
          policy: 'orders',
          reason,
        }),
      ).toBe(n);
    }
    // In the strict namespace every selected pod that exists was injected and sealed.
    const r = await waitForPolicy(
      admin,
      labelled,
      'orders',
      'status written',
      (x) => x.status?.matchedPods >= 3,
    );
    expect(r.status.unprotectedPods).toBe(0);
    expect(r.status.unprotectedByReason).toEqual({});
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
