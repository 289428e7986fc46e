/**
 * `tokenwarden operator`, wired: informers → queue → reconcilers → status, a Lease elector
 * deciding who writes, and the metrics/health port. Every replica watches and reconciles (so a
 * new leader starts from a warm cache); only the leader writes. `stop()` is the graceful path:
 * informers stop, in-flight reconciles get a bounded time to finish, the lease is released so
 * another replica takes over at once rather than after the lease expires.
 */
import {
  AuthenticationV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
} from '@kubernetes/client-node';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import type { OperatorConfig } from '../config/operator.js';
import type { Logger } from '../log/logger.js';
import { createOperatorMetrics, type OperatorMetrics } from '../metrics/operator.js';
import { Controller } from './controller.js';
import { LeaderElector } from './runtime/elector.js';
import { allSynced, createInformers } from './runtime/informers.js';
import { PolicyCatalog } from './policy/catalog.js';
import { SharedKeys } from './policy/keys.js';
import { WorkQueue } from './runtime/queue.js';
import { reconcileKeyId, type ReconcileKey } from './runtime/reconcile-key.js';
import { PolicyReconciler } from './policy/reconcile.js';
import { RevocationReconciler } from './revocation/reconcile.js';
import { RevocationIndex } from './revocation/revocation-index.js';
import { startHealthServer, type HealthServer } from './runtime/health-server.js';
import { StatusWriter } from './status/status-writer.js';
import { servingDnsNames } from './serving/certificate.js';
import { ManagedCertificate, type ServingCa } from './serving/secret.js';
import { createServingServer, type ServingPlugin, type ServingServer } from './serving/server.js';
import { reviewToken } from './stream/auth.js';
import { StreamHub } from './stream/hub.js';
import { ReplicaStatus } from './stream/replicas.js';
import { streamRoutes } from './stream/routes.js';
import { ConfigSigner } from './stream/signer.js';
import { createInjection, loadIntegrity } from './webhook/wiring.js';
import { receiverPlugin } from './receivers/wiring.js';
import { VERSION } from '../core/version.js';

function splitKey(key: string): [string, string] {
  const i = key.indexOf('/');
  return [key.slice(0, i), key.slice(i + 1)];
}

/** What a plugin mounted on the HTTPS server (the admission webhook) may use. */
export interface ServingContext {
  readonly kc: KubeConfig;
  readonly log: Logger;
  readonly metrics: OperatorMetrics;
  readonly config: OperatorConfig;
  /** The CA of the serving certificate, and its changes (the webhook's caBundle). */
  readonly ca: ServingCa;
}

export interface OperatorDeps {
  readonly kc: KubeConfig;
  readonly log: Logger;
  /** A fresh Registry by default; tests pass their own to read the metrics. */
  readonly registry?: Registry;
  /** For JWKS and discovery fetches; globalThis.fetch by default. */
  readonly fetch?: typeof globalThis.fetch;
  /** More plugins for the HTTPS server (the admission webhook at POST /inject). */
  readonly servingPlugins?: (ctx: ServingContext) => readonly ServingPlugin[];
  /** How often the serving Secret is re-read (default 10 s; tests go faster). */
  readonly servingSecretPollMs?: number;
}

export interface OperatorHandle {
  readonly metrics: OperatorMetrics;
  readonly health: HealthServer;
  /** The HTTPS server's bound address (config stream, webhook). */
  readonly servingAddress: AddressInfo;
  readonly ca: ServingCa;
  readonly hub: StreamHub;
  /** The informers have synced and the workers run. */
  ready(): boolean;
  isLeader(): boolean;
  /** Graceful stop; resolves when the lease is released. Idempotent. */
  stop(): Promise<void>;
}

export async function runOperator(cfg: OperatorConfig, deps: OperatorDeps): Promise<OperatorHandle> {
  const { kc, log } = deps;
  const metrics = createOperatorMetrics(deps.registry ?? new Registry());
  const custom = kc.makeApiClient(CustomObjectsApi);
  const informers = createInformers(kc, log, metrics);
  const integrity = await loadIntegrity({ kc, namespace: cfg.namespace, registry: metrics.registry, log });
  const queue = new WorkQueue<ReconcileKey>({
    id: reconcileKeyId,
    onDepth: (n) => metrics.queueDepth.set(n),
  });
  const index = new RevocationIndex();
  const catalog = new PolicyCatalog(informers.policies.cache, log.child({ component: 'catalog' }));
  const keys = new SharedKeys({
    ...(deps.fetch === undefined ? {} : { fetch: deps.fetch }),
    onRefresh: (issuer, result) => {
      metrics.jwksFetches.inc({ result });
      if (result === 'success') hub.updates.keysRefreshed(issuer);
    },
  });
  const elector = new LeaderElector({
    api: kc.makeApiClient(CoordinationV1Api),
    namespace: cfg.leaseNamespace,
    name: cfg.leaseName,
    identity: cfg.identity,
    leaseDurationSeconds: cfg.leaseDurationSeconds,
    log: log.child({ component: 'leader' }),
    onChange: (leading) => {
      metrics.leader.set(leading ? 1 : 0);
      // A new leader writes what its predecessor may have left undone.
      if (leading) controller.enqueueAll();
    },
  });
  const writer = new StatusWriter({
    custom,
    core: kc.makeApiClient(CoreV1Api),
    log: log.child({ component: 'status' }),
    metrics,
    isLeader: () => elector.isLeader(),
    identity: cfg.identity,
  });
  const rlog = log.child({ component: 'reconcile' });
  const controller: Controller = new Controller({
    informers,
    queue,
    log: rlog,
    metrics,
    policies: new PolicyReconciler({
      catalog,
      pods: informers.pods.cache,
      revocations: index,
      keys,
      writer,
      log: rlog,
      synced: (key) => replicas.aggregate().synced(key),
      ...integrity.reconciler,
    }),
    revocations: new RevocationReconciler({
      revocations: informers.revocations.cache,
      index,
      enqueuePolicies: (namespace, policyName) => controller.enqueuePolicies(namespace, policyName),
      custom,
      writer,
      log: rlog,
      metrics,
      acknowledgement: (key, uid, generation) => replicas.aggregate().revocation(key, uid, generation),
    }),
  });

  // The config stream reads the informer caches directly (not the revocation index, which
  // reconciles fill): a write reaches sidecars without waiting for the work queue.
  const signer = new ConfigSigner();
  const hub: StreamHub = new StreamHub({
    signer,
    catalog,
    pods: informers.pods.cache,
    revocations: informers.revocations.cache,
    keys,
    log: log.child({ component: 'stream' }),
    metrics,
    onSummaryChange: () => replicas.changed(),
  });
  informers.policies.onEvent((_, obj) =>
    hub.updates.policyChanged(obj.metadata?.namespace ?? '', obj.metadata?.name ?? ''),
  );
  informers.revocations.onEvent((event, obj) => {
    const policyName = (obj.spec as { policyName?: unknown } | undefined)?.policyName;
    hub.updates.revocationChanged(
      event === 'delete',
      obj,
      typeof policyName === 'string' ? policyName : undefined,
    );
  });
  informers.pods.onEvent((event, pod) => hub.updates.podChanged(event === 'delete', pod));
  const core = kc.makeApiClient(CoreV1Api);
  const replicas: ReplicaStatus = new ReplicaStatus({
    core,
    namespace: cfg.namespace,
    identity: cfg.identity,
    hub,
    log: log.child({ component: 'replicas' }),
    isLeader: () => elector.isLeader(),
    onChange: (policies, revocations) => {
      for (const k of policies) controller.enqueue('TokenPolicy', ...splitKey(k));
      for (const k of revocations) controller.enqueue('TokenRevocation', ...splitKey(k));
    },
  });
  const cert = new ManagedCertificate({
    core,
    namespace: cfg.namespace,
    want: {
      dnsNames: servingDnsNames(cfg.namespace, cfg.serviceName, cfg.servingDnsNames),
      ipAddresses: cfg.servingIpAddresses,
    },
    certManager: cfg.certManager,
    log: log.child({ component: 'serving-secret' }),
    ...(deps.servingSecretPollMs === undefined ? {} : { pollMs: deps.servingSecretPollMs }),
  });
  const authn = kc.makeApiClient(AuthenticationV1Api);

  let started = false;
  let stopping: Promise<void> | undefined;
  const health = await startHealthServer({
    listen: cfg.metricsListen,
    registry: metrics.registry,
    notReady: () => (started ? undefined : 'informers have not synced yet'),
  });
  log.info({ address: health.address, identity: cfg.identity }, 'operator starting');
  await Promise.all([informers.policies.start(), informers.revocations.start(), informers.pods.start()]);
  elector.start();

  // The injection webhook runs when the chart gives its settings (--injection-config); it
  // refuses pods until the policy cache has synced and the serving CA is known.
  const injection =
    cfg.injection === undefined
      ? undefined
      : createInjection({
          kc,
          config: cfg.injection,
          webhookConfiguration: cfg.webhookConfiguration,
          catalog,
          policiesSynced: () => informers.policies.synced(),
          log: log.child({ component: 'webhook' }),
          registry: metrics.registry,
          version: VERSION,
          sealKey: integrity.sealKey,
        });
  const syncCa = (caPem: string): void => {
    injection?.onCertificate(caPem).catch((err: unknown) => {
      log.error({ err: (err as Error).message }, 'webhook caBundle sync failed');
    });
  };

  let serving: ServingServer | undefined;
  let servingAddress: AddressInfo;
  try {
    const material = await cert.start();
    signer.use(material);
    syncCa(material.caPem);
    const slog = log.child({ component: 'serving' });
    serving = await createServingServer({
      tls: material,
      log: slog,
      plugins: [
        {
          plugin: streamRoutes,
          options: { hub, review: (t: string) => reviewToken(authn, t), log: slog, metrics },
        },
        ...(injection === undefined ? [] : [{ plugin: injection.plugin }]),
        // Identity-provider events → TokenRevocations (src/operator/receivers).
        receiverPlugin({
          kc,
          policies: informers.policies.cache,
          keys,
          metrics,
          log: log.child({ component: 'receivers' }),
        }),
        ...(deps.servingPlugins?.({ kc, log, metrics, config: cfg, ca: cert }) ?? []),
      ],
    });
    const server = serving;
    cert.onChange((m) => {
      signer.use(m);
      server.reload(m);
      syncCa(m.caPem);
    });
    servingAddress = await serving.listen(cfg.serve);
    log.info({ address: servingAddress }, 'serving HTTPS');
  } catch (err) {
    cert.stop();
    await serving?.close();
    await Promise.all([informers.policies.stop(), informers.revocations.stop(), informers.pods.stop()]);
    await elector.stop();
    keys.close();
    await health.close();
    throw err;
  }

  // Workers start only once every cache is complete: a policy counted against a half-listed
  // set of pods would get a wrong status, written by a leader that believes it.
  let resync: NodeJS.Timeout | undefined;
  const waitForSync = setInterval(() => {
    if (!allSynced(informers) || stopping !== undefined) return;
    clearInterval(waitForSync);
    controller.start();
    hub.start();
    replicas.start();
    started = true;
    resync = setInterval(() => controller.enqueueAll(), cfg.resyncSeconds * 1000);
    log.info('informers synced; reconciling');
  }, 50);

  const stop = async (): Promise<void> => {
    clearInterval(waitForSync);
    clearInterval(resync);
    started = false;
    // Streams first: their sidecars reconnect to another replica while this one winds down.
    hub.close();
    cert.stop();
    await serving?.close();
    await replicas.stop();
    await Promise.all([informers.policies.stop(), informers.revocations.stop(), informers.pods.stop()]);
    const drained = await controller.stop(cfg.shutdownTimeoutSeconds * 1000);
    if (!drained)
      log.warn({ timeoutSeconds: cfg.shutdownTimeoutSeconds }, 'reconciles still running at shutdown');
    await elector.stop();
    keys.close();
    await health.close();
    log.info('operator stopped');
  };
  return {
    metrics,
    health,
    servingAddress,
    ca: cert,
    hub,
    ready: () => started,
    isLeader: () => elector.isLeader(),
    stop: () => (stopping ??= stop()),
  };
}
