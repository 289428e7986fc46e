/**
 * Pods, watched only where they can matter: one pod informer per namespace that holds at least
 * one TokenPolicy (a policy selects pods of its own namespace only), started when the first
 * policy appears there and stopped when the last one goes. A cluster of 10,000 pods with
 * policies in a few namespaces caches those namespaces' pods, not the cluster's (bench/pods.ts
 * measures it). Same surface as one Informer: a cache, event handlers, synced().
 */
import { CoreV1Api, type KubeConfig, type ObjectCache, type V1Pod } from '@kubernetes/client-node';
import type { Logger } from '../../log/logger.js';
import type { OperatorMetrics } from '../../metrics/operator.js';
import { Informer, type InformerHandler } from './informers.js';

export class ScopedPodInformers {
  private readonly perNamespace = new Map<string, Informer<V1Pod>>();
  private readonly handlers: InformerHandler<V1Pod>[] = [];
  private running = false;
  private readonly core: CoreV1Api;
  private moved = 0;

  constructor(
    private readonly kc: KubeConfig,
    private readonly log: Logger,
    private readonly metrics?: OperatorMetrics,
  ) {
    this.core = kc.makeApiClient(CoreV1Api);
  }

  readonly cache: ObjectCache<V1Pod> = {
    get: (name, namespace) =>
      namespace === undefined ? undefined : this.perNamespace.get(namespace)?.cache.get(name, namespace),
    list: (namespace) => {
      if (namespace !== undefined) return this.perNamespace.get(namespace)?.cache.list(namespace) ?? [];
      return [...this.perNamespace.values()].flatMap((i) => i.cache.list());
    },
  };

  onEvent(handler: InformerHandler<V1Pod>): void {
    this.handlers.push(handler);
  }

  /**
   * Moves whenever what `cache` returns may have changed: a pod event (the cache is updated
   * before handlers run), a namespace watched or dropped, a start or stop. Equal numbers mean
   * the same pods.
   */
  epoch(): number {
    return this.moved;
  }

  /** Every namespace's informer has listed at least once. */
  synced(): boolean {
    for (const i of this.perNamespace.values()) if (!i.synced()) return false;
    return true;
  }

  /** The namespaces watched now. */
  namespaces(): string[] {
    return [...this.perNamespace.keys()];
  }

  async start(): Promise<void> {
    this.running = true;
    this.moved++;
    await Promise.all([...this.perNamespace].map(([ns, i]) => this.startOne(i, ns)));
  }

  async stop(): Promise<void> {
    this.running = false;
    this.moved++;
    await Promise.all([...this.perNamespace.values()].map((i) => i.stop()));
  }

  /** Watch exactly these namespaces from now on. */
  setNamespaces(wanted: ReadonlySet<string>): void {
    for (const [ns, informer] of this.perNamespace) {
      if (wanted.has(ns)) continue;
      this.moved++;
      this.perNamespace.delete(ns);
      void informer.stop();
      this.log.debug({ namespace: ns }, 'pod watch stopped: no TokenPolicy left in the namespace');
    }
    for (const ns of wanted) {
      if (this.perNamespace.has(ns)) continue;
      this.moved++;
      const informer = new Informer<V1Pod>(
        'pods',
        this.kc,
        `/api/v1/namespaces/${ns}/pods`,
        () => this.core.listNamespacedPod({ namespace: ns }),
        this.log,
        this.metrics,
      );
      informer.onEvent((event, pod) => {
        this.moved++;
        for (const h of this.handlers) h(event, pod);
      });
      this.perNamespace.set(ns, informer);
      if (this.running) void this.startOne(informer, ns);
    }
  }

  private startOne(informer: Informer<V1Pod>, ns?: string): Promise<void> {
    return informer.start().catch((err: unknown) => {
      this.log.warn(
        { namespace: ns, err: err instanceof Error ? err.message : String(err) },
        'pod watch failed to start; retrying',
      );
      const retry = setTimeout(() => {
        const current = [...this.perNamespace.values()].includes(informer);
        if (this.running && current) void this.startOne(informer, ns);
      }, 1_000);
      retry.unref();
    });
  }
}
