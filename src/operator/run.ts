/**
 * `tokenwarden operator`, wired: informers → queue → reconcilers → status, a Lease elector
 * deciding who writes, and the metrics/health port. Every replica watches and reconciles (so a
 * new leader starts from a warm cache); only the leader writes. `stop()` is the graceful path:
 * informers stop, in-flight reconciles get a bounded time to finish, the lease is released so
 * another replica takes over at once rather than after the lease expires.
 */
import { CoordinationV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import type { OperatorConfig } from '../config/operator.js';
import type { Logger } from '../log/logger.js';
import { createOperatorMetrics, type OperatorMetrics } from '../metrics/operator.js';
import { Controller } from './controller.js';
import { LeaderElector } from './runtime/elector.js';
import { allSynced, createInformers } from './runtime/informers.js';
import { SharedKeys } from './policy/keys.js';
import { WorkQueue } from './runtime/queue.js';
import { reconcileKeyId, type ReconcileKey } from './runtime/reconcile-key.js';
import { PolicyReconciler } from './policy/reconcile.js';
import { RevocationReconciler } from './revocation/reconcile.js';
import { RevocationIndex } from './revocation/revocation-index.js';
import { startHealthServer, type HealthServer } from './runtime/health-server.js';
import { StatusWriter } from './status/status-writer.js';

export interface OperatorDeps {
  readonly kc: KubeConfig;
  readonly log: Logger;
  /** A fresh Registry by default; tests pass their own to read the metrics. */
  readonly registry?: Registry;
  /** For JWKS and discovery fetches; globalThis.fetch by default. */
  readonly fetch?: typeof globalThis.fetch;
}

export interface OperatorHandle {
  readonly metrics: OperatorMetrics;
  readonly health: HealthServer;
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
  const queue = new WorkQueue<ReconcileKey>({
    id: reconcileKeyId,
    onDepth: (n) => metrics.queueDepth.set(n),
  });
  const index = new RevocationIndex();
  const keys = new SharedKeys({
    ...(deps.fetch === undefined ? {} : { fetch: deps.fetch }),
    onRefresh: (_issuer, result) => metrics.jwksFetches.inc({ result }),
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
      policies: informers.policies.cache,
      pods: informers.pods.cache,
      revocations: index,
      keys,
      writer,
      log: rlog,
    }),
    revocations: new RevocationReconciler({
      revocations: informers.revocations.cache,
      index,
      enqueuePolicies: (namespace, policyName) => controller.enqueuePolicies(namespace, policyName),
      custom,
      writer,
      log: rlog,
      metrics,
    }),
  });

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

  // Workers start only once every cache is complete: a policy counted against a half-listed
  // set of pods would get a wrong status, written by a leader that believes it.
  let resync: NodeJS.Timeout | undefined;
  const waitForSync = setInterval(() => {
    if (!allSynced(informers) || stopping !== undefined) return;
    clearInterval(waitForSync);
    controller.start();
    started = true;
    resync = setInterval(() => controller.enqueueAll(), cfg.resyncSeconds * 1000);
    log.info('informers synced; reconciling');
  }, 50);

  const stop = async (): Promise<void> => {
    clearInterval(waitForSync);
    clearInterval(resync);
    started = false;
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
    ready: () => started,
    isLeader: () => elector.isLeader(),
    stop: () => (stopping ??= stop()),
  };
}
