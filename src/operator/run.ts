/**
 * `tokenwarden operator`, wired: informers → queue → reconcilers → status, a Lease elector
 * deciding who writes, the HTTPS server (config stream, webhook, receivers) and the
 * metrics/health port. Every replica watches and reconciles (so a new leader starts from a warm
 * cache); only the leader writes. The objects are built in components.ts; the process is the
 * list of parts below, started in order and stopped in reverse (core/parts.ts). `stop()` is the
 * graceful path: streams close, informers stop, in-flight reconciles get a bounded time to
 * finish, the lease is released so another replica takes over at once rather than after the
 * lease expires. A failed start stops the parts already started, the same way.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import type { OperatorConfig } from '../config/operator.js';
import { Late, startParts, type Part } from '../core/parts.js';
import type { Logger } from '../log/logger.js';
import type { OperatorMetrics } from '../metrics/operator.js';
import { buildComponents, type OperatorComponents } from './components.js';
import type { Controller } from './controller.js';
import { servingPart, type ServingContext } from './https.js';
import { startHealthServer, type HealthServer } from './runtime/health-server.js';
import { allSynced } from './runtime/informers.js';
import type { ServingCa } from './serving/secret.js';
import type { ServingPlugin } from './serving/server.js';
import type { StreamHub } from './stream/hub.js';
import { loadIntegrity } from './webhook/wiring.js';

export type { ServingContext } from './https.js';

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
  const registry = deps.registry ?? new Registry();
  const integrity = await loadIntegrity({ kc, namespace: cfg.namespace, registry, log });
  const c = buildComponents(cfg, { ...deps, registry, integrity });
  const workers = workersPart(cfg, c, log);
  const health = new Late<HealthServer>('health server');
  const serving = servingPart(cfg, deps, c);
  const { informers, elector, controller, keys } = c;
  const allInformers = [informers.policies, informers.revocations, informers.pods];
  // Stopped in reverse: streams first (their sidecars reconnect to another replica while this one
  // winds down), then the HTTPS server, informers, in-flight reconciles, and the lease last.
  const parts: Part[] = [
    {
      name: 'health',
      start: async () => {
        health.set(
          await startHealthServer({
            listen: cfg.metricsListen,
            registry: c.metrics.registry,
            notReady: workers.notReady,
          }),
        );
        log.info({ address: health.get().address, identity: cfg.identity }, 'operator starting');
      },
      stop: () => health.get().close(),
    },
    { name: 'keys', stop: () => keys.close() },
    { name: 'lease', stop: () => elector.stop() },
    { name: 'reconcilers', stop: () => drainReconciles(cfg, controller, log) },
    {
      name: 'informers',
      start: async () => void (await Promise.all(allInformers.map((i) => i.start()))),
      stop: async () => void (await Promise.all(allInformers.map((i) => i.stop()))),
    },
    { name: 'election', start: () => elector.start() },
    { name: 'replicas', stop: () => c.replicas.stop() },
    serving.part,
    workers.part,
  ];
  const running = await startParts(parts, {
    onStopFailure: ({ part, error }) => log.error({ part, err: (error as Error).message }, 'stop failed'),
  });
  let stopping: Promise<void> | undefined;
  return {
    metrics: c.metrics,
    health: health.get(),
    servingAddress: serving.address(),
    ca: serving.ca,
    hub: c.hub,
    ready: () => workers.notReady() === undefined,
    isLeader: () => elector.isLeader(),
    stop: () => (stopping ??= running.stop().then(() => log.info('operator stopped'))),
  };
}

async function drainReconciles(cfg: OperatorConfig, controller: Controller, log: Logger): Promise<void> {
  const drained = await controller.stop(cfg.shutdownTimeoutSeconds * 1000);
  if (!drained)
    log.warn({ timeoutSeconds: cfg.shutdownTimeoutSeconds }, 'reconciles still running at shutdown');
}

/**
 * Workers start only once every cache is complete: a policy counted against a half-listed set of
 * pods would get a wrong status, written by a leader that believes it. Until then the operator is
 * not ready.
 */
function workersPart(cfg: OperatorConfig, c: OperatorComponents, log: Logger) {
  let started = false;
  let stopped = false;
  let waitForSync: NodeJS.Timeout | undefined;
  let resync: NodeJS.Timeout | undefined;
  const part: Part = {
    name: 'workers',
    start: () => {
      waitForSync = setInterval(() => {
        if (!allSynced(c.informers) || stopped) return;
        clearInterval(waitForSync);
        c.controller.start();
        c.hub.start();
        c.replicas.start();
        started = true;
        resync = setInterval(() => c.controller.enqueueAll(), cfg.resyncSeconds * 1000);
        log.info('informers synced; reconciling');
      }, 50);
    },
    stop: () => {
      stopped = true;
      clearInterval(waitForSync);
      clearInterval(resync);
      started = false;
      c.hub.close();
    },
  };
  return { part, notReady: () => (started ? undefined : 'informers have not synced yet') };
}
