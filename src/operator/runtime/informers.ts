/**
 * TokenPolicy, TokenRevocation and Pod informers (client-node `makeInformer`: list, then watch
 * from the list's resourceVersion, cache kept in memory).
 *
 * client-node restarts a watch that ended cleanly and relists on 410 Gone by itself, but on any
 * other error it calls the 'error' handlers and stops for good. `Informer` restarts it after an
 * exponential backoff with jitter, from the last resourceVersion (a 410 then relists).
 */
import {
  CustomObjectsApi,
  makeInformer,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type ListWatch,
  type ObjectCache,
} from '@kubernetes/client-node';
import type { Logger } from '../../log/logger.js';
import type { OperatorMetrics, WatchedResource } from '../../metrics/operator.js';
import { backoffDelay, withJitter, type BackoffLimits } from './backoff.js';
import { POLICIES, REVOCATIONS, apiMessage, apiStatus } from './k8s.js';
import { ScopedPodInformers } from './pods.js';

export type InformerEvent = 'add' | 'update' | 'delete';
export type InformerHandler<T> = (event: InformerEvent, obj: T) => void;

const WATCH_BACKOFF: BackoffLimits = { baseMs: 500, maxMs: 30_000 };

export class Informer<T extends KubernetesObject> {
  private readonly inner: ListWatch<T>;
  private readonly handlers: InformerHandler<T>[] = [];
  private failures = 0;
  private stopped = true;
  private restartTimer: NodeJS.Timeout | undefined;
  private hasSynced = false;

  constructor(
    readonly resource: WatchedResource,
    kc: KubeConfig,
    path: string,
    list: () => Promise<KubernetesListObject<T>>,
    private readonly log: Logger,
    private readonly metrics?: OperatorMetrics,
  ) {
    const listed = async (): Promise<KubernetesListObject<T>> => {
      const result = await list();
      // The cache is filled right after this promise settles, in the same turn: by the
      // time the immediate runs, everything listed is in it.
      setImmediate(() => {
        this.hasSynced = true;
        this.failures = 0;
      });
      return result;
    };
    // makeInformer returns a ListWatch (the cache); the Informer interface hides it.
    this.inner = makeInformer(kc, path, listed) as ListWatch<T>;
    for (const event of ['add', 'update', 'delete'] as const) {
      this.inner.on(event, (obj: T) => {
        this.failures = 0;
        for (const h of this.handlers) h(event, obj);
      });
    }
    this.inner.on('error', (err?: unknown) => this.restartLater(err));
  }

  get cache(): ObjectCache<T> {
    return this.inner;
  }

  /** True once a list has succeeded: the cache holds the state of the world as of that list. */
  synced(): boolean {
    return this.hasSynced;
  }

  onEvent(handler: InformerHandler<T>): void {
    this.handlers.push(handler);
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.inner.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    await this.inner.stop();
  }

  private restartLater(err: unknown): void {
    // Stopping aborts the watch request, which reports an error: not a reason to restart.
    if (this.stopped) return;
    this.failures++;
    const delayMs = withJitter(backoffDelay(this.failures, WATCH_BACKOFF));
    this.log.warn(
      { resource: this.resource, status: apiStatus(err), err: apiMessage(err), delayMs },
      'watch failed; restarting',
    );
    this.metrics?.informerRestarts.inc({ resource: this.resource });
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => {
      if (this.stopped) return;
      this.inner.start().catch((e: unknown) => this.restartLater(e));
    }, delayMs);
    this.restartTimer.unref();
  }
}

/** The custom objects as the informers hold them: validated later, by reconcile. */
export interface RawObject extends KubernetesObject {
  spec?: unknown;
  status?: Record<string, unknown>;
}

export interface Informers {
  readonly policies: Informer<RawObject>;
  readonly revocations: Informer<RawObject>;
  /** Per-namespace, only where TokenPolicies are (pods.ts). */
  readonly pods: ScopedPodInformers;
}

export function createInformers(kc: KubeConfig, log: Logger, metrics?: OperatorMetrics): Informers {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const ilog = log.child({ component: 'informer' });
  const crPath = (c: { group: string; version: string; plural: string }): string =>
    `/apis/${c.group}/${c.version}/${c.plural}`;
  const policies = new Informer<RawObject>(
    'tokenpolicies',
    kc,
    crPath(POLICIES),
    () => custom.listClusterCustomObject({ ...POLICIES }) as Promise<KubernetesListObject<RawObject>>,
    ilog,
    metrics,
  );
  const pods = new ScopedPodInformers(kc, ilog, metrics);
  // Registered first, so the namespace's pod watch exists before any other handler runs.
  policies.onEvent(() =>
    pods.setNamespaces(new Set(policies.cache.list().map((p) => p.metadata?.namespace ?? ''))),
  );
  return {
    policies,
    revocations: new Informer<RawObject>(
      'tokenrevocations',
      kc,
      crPath(REVOCATIONS),
      () => custom.listClusterCustomObject({ ...REVOCATIONS }) as Promise<KubernetesListObject<RawObject>>,
      ilog,
      metrics,
    ),
    pods,
  };
}

export function allSynced(i: Informers): boolean {
  return i.policies.synced() && i.revocations.synced() && i.pods.synced();
}
