/**
 * The operator's long-lived objects, built in dependency order before any part starts. Their
 * cycles (a callback of one needs another built later) go through `Late` references, named
 * here, never through a name used before its declaration.
 */
import { CoordinationV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import type { OperatorConfig } from '../config/operator.js';
import { Late } from '../core/parts.js';
import type { Logger } from '../log/logger.js';
import { createOperatorMetrics, type OperatorMetrics } from '../metrics/operator.js';
import { Controller } from './controller.js';
import { acknowledgementsChanged, routeToStream } from './events.js';
import { PolicyCatalog } from './policy/catalog.js';
import { SharedKeys } from './policy/keys.js';
import { PolicyReconciler } from './policy/reconcile.js';
import { RevocationReconciler } from './revocation/reconcile.js';
import { RevocationIndex } from './revocation/revocation-index.js';
import { LeaderElector } from './runtime/elector.js';
import { createInformers, type Informers } from './runtime/informers.js';
import { WorkQueue } from './runtime/queue.js';
import { reconcileKeyId, type ReconcileKey } from './runtime/reconcile-key.js';
import { StatusWriter } from './status/status-writer.js';
import { StreamHub } from './stream/hub.js';
import { ReplicaStatus } from './stream/replicas.js';
import { VersionSigner } from './stream/signer.js';
import type { Integrity } from './webhook/wiring.js';

export interface OperatorComponents {
  readonly metrics: OperatorMetrics;
  readonly informers: Informers;
  readonly catalog: PolicyCatalog;
  readonly keys: SharedKeys;
  readonly elector: LeaderElector;
  readonly controller: Controller;
  readonly hub: StreamHub;
  readonly replicas: ReplicaStatus;
  /** Signs each config version with the serving key (the sidecar checks it; ADR 0012). */
  readonly signer: VersionSigner;
  /** The seal key and the unprotected-pods gauge (ADR 0013). */
  readonly integrity: Integrity;
}

export interface ComponentDeps {
  readonly kc: KubeConfig;
  readonly log: Logger;
  readonly registry: Registry;
  readonly fetch?: typeof globalThis.fetch;
  /** Loaded before the components are built (it reads or creates the seal key's Secret). */
  readonly integrity: Integrity;
}

export function buildComponents(cfg: OperatorConfig, deps: ComponentDeps): OperatorComponents {
  const { kc, log } = deps;
  const metrics = createOperatorMetrics(deps.registry);
  const signer = new VersionSigner();
  const { integrity } = deps;
  const informers = createInformers(kc, log, metrics);
  const catalog = new PolicyCatalog(informers.policies.cache, log.child({ component: 'catalog' }));
  const hub = new Late<StreamHub>('stream hub');
  const controller = new Late<Controller>('controller');
  const replicas = new Late<ReplicaStatus>('replica status');
  const keys = new SharedKeys({
    ...(deps.fetch === undefined ? {} : { fetch: deps.fetch }),
    onRefresh: (issuer, result) => {
      metrics.jwksFetches.inc({ result });
      if (result === 'success') hub.get().updates.keysRefreshed(issuer);
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
      if (leading) controller.get().enqueueAll();
    },
  });
  const base = { cfg, kc, log, metrics, informers, catalog, keys, elector, integrity };
  controller.set(buildController(base, () => replicas.get()));
  // The config stream reads the informer caches directly (not the revocation index, which
  // reconciles fill): a write reaches sidecars without waiting for the work queue.
  hub.set(
    new StreamHub({
      signer,
      catalog,
      pods: informers.pods.cache,
      revocations: informers.revocations.cache,
      keys,
      log: log.child({ component: 'stream' }),
      metrics,
      onSummaryChange: () => replicas.get().changed(),
    }),
  );
  routeToStream(informers, hub.get());
  replicas.set(
    new ReplicaStatus({
      core: kc.makeApiClient(CoreV1Api),
      namespace: cfg.namespace,
      identity: cfg.identity,
      hub: hub.get(),
      log: log.child({ component: 'replicas' }),
      isLeader: () => elector.isLeader(),
      onChange: (policies, revocations) =>
        acknowledgementsChanged((...k) => controller.get().enqueue(...k), policies, revocations),
    }),
  );
  return { ...base, signer, controller: controller.get(), hub: hub.get(), replicas: replicas.get() };
}

type Base = Pick<
  OperatorComponents,
  'metrics' | 'informers' | 'catalog' | 'keys' | 'elector' | 'integrity'
> & {
  cfg: OperatorConfig;
  kc: KubeConfig;
  log: Logger;
};

/** The work queue, both reconcilers and the status writer (which writes only as leader). */
function buildController(b: Base, replicas: () => ReplicaStatus): Controller {
  const custom = b.kc.makeApiClient(CustomObjectsApi);
  const queue = new WorkQueue<ReconcileKey>({
    id: reconcileKeyId,
    onDepth: (n) => b.metrics.queueDepth.set(n),
  });
  const index = new RevocationIndex();
  const writer = new StatusWriter({
    custom,
    core: b.kc.makeApiClient(CoreV1Api),
    log: b.log.child({ component: 'status' }),
    metrics: b.metrics,
    isLeader: () => b.elector.isLeader(),
    identity: b.cfg.identity,
  });
  const rlog = b.log.child({ component: 'reconcile' });
  const controller = new Late<Controller>('controller');
  return controller.set(
    new Controller({
      informers: b.informers,
      queue,
      log: rlog,
      metrics: b.metrics,
      policies: new PolicyReconciler({
        catalog: b.catalog,
        pods: b.informers.pods.cache,
        revocations: index,
        keys: b.keys,
        writer,
        log: rlog,
        synced: (key) => replicas().aggregate().synced(key),
        podsEpoch: () => b.informers.pods.epoch(),
        ...b.integrity.reconciler,
      }),
      revocations: new RevocationReconciler({
        revocations: b.informers.revocations.cache,
        index,
        enqueuePolicies: (namespace, policyName) => controller.get().enqueuePolicies(namespace, policyName),
        custom,
        writer,
        log: rlog,
        metrics: b.metrics,
        acknowledgement: (key, uid, generation) => replicas().aggregate().revocation(key, uid, generation),
      }),
    }),
  );
}
