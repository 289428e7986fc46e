/**
 * The injection tests' world on a real kube-apiserver: the chart's MutatingWebhookConfiguration
 * (clientConfig rewritten to this file's HTTPS server and CA) calls the real webhook plugin, fed
 * by a real TokenPolicy informer and the chart's injection settings; three namespaces, each
 * with a policy selecting app=orders: strict (labelled), unlabelled, and permissive. Pods stay
 * Pending (no kubelet): what is stored is what a kubelet would run.
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
import { afterAll, beforeAll, expect } from 'vitest';
import { parseInjectionConfig } from '../../src/config/injection.js';
import { createLogger } from '../../src/log/logger.js';
import { createInformers, type Informers } from '../../src/operator/runtime/informers.js';
import { MERGE_PATCH } from '../../src/operator/runtime/k8s.js';
import type { OperatorHandle } from '../../src/operator/run.js';
import { PolicyCatalog } from '../../src/operator/policy/catalog.js';
import { loadSealKey } from '../../src/operator/webhook/seal-key.js';
import { createInjection } from '../../src/operator/webhook/wiring.js';
import { applyObject, deleteObject, renderChart } from './chart-support.js';
import { issueServingCert } from './harness/certs.js';
import { freshNamespace, loadKubeConfig } from './harness/namespace.js';
import {
  createPolicy,
  inlineIssuer,
  policyBody,
  publicJwk,
  suffix,
  waitFor,
  type Obj,
} from './operator-support.js';

export const silent = createLogger('test', { level: 'silent' });
const APP = { app: 'orders' };
export const JSON_PATCH = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);

export interface InjectionWorld {
  admin: KubeConfig;
  core: CoreV1Api;
  informers: Informers;
  /** The webhook server; undefined once a case has stopped it. */
  server: FastifyInstance | undefined;
  webhookConfig: Obj;
  /** An operator a case started; stopped after the file. */
  operator: OperatorHandle | undefined;
  /** Labelled for injection: the strict policy. */
  labelled: string;
  unlabelled: string;
  /** Labelled for injection with the permissive policy. */
  permissive: string;
  /** The operator's namespace: the webhook here and an operator started later share its seal key. */
  opNs: string;
}

export function podBody(
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
export async function refusal(p: Promise<unknown>): Promise<{ code?: number; body?: string } | undefined> {
  return p.then(
    () => undefined,
    (e: unknown) => e as { code?: number; body?: string },
  );
}

export const initNames = (pod: V1Pod): string[] => (pod.spec?.initContainers ?? []).map((c) => c.name);

/** Registers the calling file's hooks; the answer's fields are set once beforeAll has run. */
export function useInjectionWorld(): InjectionWorld {
  const w = { server: undefined, operator: undefined } as InjectionWorld;

  async function namespaceWith(prefix: string, labels: Record<string, string>): Promise<string> {
    const ns = await freshNamespace(w.admin, prefix);
    await w.core.patchNamespace(
      { name: ns, body: { metadata: { labels } } },
      // Merge patch: the labels are added to the test label freshNamespace set.
      MERGE_PATCH,
    );
    return ns;
  }

  async function policyIn(ns: string): Promise<void> {
    await createPolicy(w.admin, ns, policyBody('orders', inlineIssuer(await publicJwk())));
    await waitFor('the policy in the informer cache', () =>
      Promise.resolve(w.informers.policies.cache.get('orders', ns) !== undefined),
    );
  }

  beforeAll(async () => {
    w.admin = loadKubeConfig();
    w.core = w.admin.makeApiClient(CoreV1Api);
    const release = `tw-inj-${suffix()}`;
    const system = await freshNamespace(w.admin, 'tw-system');
    const objects = await renderChart(release, system);
    const injectionMap = objects.find(
      (o) => o.kind === 'Secret' && String(o.metadata.name).endsWith('-injection'),
    )!;
    const file = parseInjectionConfig(injectionMap.stringData['injection.json'] as string);
    expect(file.controlPlaneUrl).toBe(`https://tokenwarden.${system}.svc:15443`);

    w.opNs = await freshNamespace(w.admin, 'inj-op');
    const sealKey = await loadSealKey(w.core, w.opNs, silent);
    // Loaded again: the same key (read, not re-created).
    expect(await loadSealKey(w.core, w.opNs, silent)).toEqual(sealKey);

    w.informers = createInformers(w.admin, silent);
    await w.informers.policies.start();
    await waitFor('the policy informer to sync', () => Promise.resolve(w.informers.policies.synced()));

    w.webhookConfig = objects.find((o) => o.kind === 'MutatingWebhookConfiguration')!;
    const cert = await issueServingCert(['127.0.0.1']);
    // What the operator runs (wiring.ts): the plugin, and the certificate hook that syncs the caBundle.
    const injection = createInjection({
      kc: w.admin,
      config: file,
      webhookConfiguration: w.webhookConfig.metadata.name as string,
      catalog: new PolicyCatalog(w.informers.policies.cache),
      policiesSynced: () => w.informers.policies.synced(),
      log: silent,
      registry: new Registry(),
      version: '0.1.0',
      sealKey,
    });
    const server = Fastify({ https: { key: cert.keyPem, cert: cert.certPem } });
    w.server = server;
    await server.register(injection.plugin);
    await server.listen({ host: '127.0.0.1', port: 0 });
    const { port } = server.server.address() as AddressInfo;

    const hooks = w.webhookConfig.webhooks as Obj[];
    expect(hooks.map((h): unknown => h.clientConfig.service)).toEqual([
      { name: 'tokenwarden', namespace: system, path: '/inject', port: 443 },
      { name: 'tokenwarden', namespace: system, path: '/inject/permissive', port: 443 },
    ]);
    // The test's server instead of the Service; no caBundle: the certificate hook writes it.
    for (const hook of hooks) {
      hook.clientConfig = { url: `https://127.0.0.1:${port}${hook.clientConfig.service.path}` };
    }
    await applyObject(w.admin, w.webhookConfig);
    expect(await injection.onCertificate(cert.caPem)).toBe('updated');

    w.labelled = await namespaceWith('inj-on', { 'tokenwarden.dev/injection': 'enabled' });
    w.unlabelled = await freshNamespace(w.admin, 'inj-off');
    w.permissive = await namespaceWith('inj-perm', {
      'tokenwarden.dev/injection': 'enabled',
      'tokenwarden.dev/injection-policy': 'permissive',
    });
    await policyIn(w.labelled);
    await policyIn(w.unlabelled);
    await policyIn(w.permissive);
    // The API server loads webhook configurations through its own informer: wait until it calls us.
    await waitFor(
      'the API server to call the webhook',
      async () => {
        const probe = await w.core
          .createNamespacedPod({ namespace: w.labelled, body: podBody('probe'), dryRun: 'All' })
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
    await w.operator?.stop();
    if (w.webhookConfig) await deleteObject(w.admin, w.webhookConfig);
    await w.server?.close();
    await w.informers?.policies.stop();
  });
  return w;
}
