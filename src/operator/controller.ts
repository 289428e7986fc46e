/**
 * The controller: informer events become queue keys (never work done in a handler), workers
 * take keys one at a time each and hand them to the reconciler of their kind. A revocation event
 * only enqueues its key: the revocation reconciler validates it, keeps the revocation index
 * current and enqueues the policies it names, so a policy reconciled after that counts it.
 */
import type { Logger } from '../log/logger.js';
import {
  setPolicyReadiness,
  type OperatorMetrics,
  type ReconcileResultLabel as ResultLabel,
} from '../metrics/operator.js';
import type { PolicyReconciler } from './policy/reconcile.js';
import type { RevocationReconciler } from './revocation/reconcile.js';
import type { Informers } from './runtime/informers.js';
import { apiMessage, apiStatus } from './runtime/k8s.js';
import type { WorkQueue } from './runtime/queue.js';
import { reconcileKey, type ReconcileKey, type ReconcileResult } from './runtime/reconcile-key.js';
import { isLivePod, type PodView } from './policy/selector.js';

/**
 * How long a policy whose figures moved (revocations it counts, matched pods, synced sidecars)
 * waits before its reconcile; moves meanwhile join that reconcile. Without it, a hundred
 * revocations at 10/s acknowledged by a thousand sidecars wrote the policy's status about five
 * hundred times: each write an API call, an etcd write and a watch event back to every replica.
 * A change of the policy itself (its informer event) is still reconciled at once.
 */
export const FIGURES_DELAY_MS = 1_000;

export interface ControllerDeps {
  readonly informers: Informers;
  readonly queue: WorkQueue<ReconcileKey>;
  readonly policies: PolicyReconciler;
  readonly revocations: RevocationReconciler;
  readonly log: Logger;
  readonly metrics?: OperatorMetrics;
  readonly workers?: number;
}

function nsName(obj: { metadata?: { namespace?: string; name?: string } }): [string, string] {
  return [obj.metadata?.namespace ?? '', obj.metadata?.name ?? ''];
}

export class Controller {
  private workers: Promise<void>[] = [];
  /** What matching looks at, per pod: a status update that changes none of it changes no count. */
  private readonly podShapes = new Map<string, string>();

  constructor(private readonly deps: ControllerDeps) {
    const { informers, queue } = deps;
    informers.policies.onEvent((_, obj) => queue.add(reconcileKey('TokenPolicy', ...nsName(obj))));
    informers.revocations.onEvent((_, obj) => queue.add(reconcileKey('TokenRevocation', ...nsName(obj))));
    informers.pods.onEvent((event, pod) => this.onPod(event === 'delete', pod));
  }

  /** Starts the workers; call once the informers have synced. */
  start(): void {
    // Index every revocation before the first policy is counted, so no policy status starts
    // at zero revocations only to be corrected a moment later.
    for (const r of this.deps.informers.revocations.cache.list()) this.deps.revocations.reindex(...nsName(r));
    const n = this.deps.workers ?? 4;
    for (let i = 0; i < n; i++) this.workers.push(this.work());
    this.enqueueAll();
  }

  /**
   * One object, from outside the informers: the replica summaries moved. A revocation's
   * acknowledgement is written at once; a policy's synced count joins its figures' reconcile.
   */
  enqueue(kind: 'TokenPolicy' | 'TokenRevocation', namespace: string, name: string): void {
    if (kind === 'TokenPolicy')
      this.deps.queue.addAfter(reconcileKey(kind, namespace, name), FIGURES_DELAY_MS);
    else this.deps.queue.add(reconcileKey(kind, namespace, name));
  }

  /** Every known object, as on a resync or when this replica becomes leader. */
  enqueueAll(): void {
    for (const p of this.deps.informers.policies.cache.list())
      this.deps.queue.add(reconcileKey('TokenPolicy', ...nsName(p)));
    for (const r of this.deps.informers.revocations.cache.list())
      this.deps.queue.add(reconcileKey('TokenRevocation', ...nsName(r)));
  }

  /**
   * The named policy, or every policy of the namespace when `policyName` is undefined: their
   * figures moved (a revocation, a pod), so they are reconciled within FIGURES_DELAY_MS.
   */
  enqueuePolicies(namespace: string, policyName: string | undefined): void {
    if (policyName !== undefined)
      return this.deps.queue.addAfter(reconcileKey('TokenPolicy', namespace, policyName), FIGURES_DELAY_MS);
    for (const p of this.deps.informers.policies.cache.list(namespace)) {
      this.deps.queue.addAfter(reconcileKey('TokenPolicy', ...nsName(p)), FIGURES_DELAY_MS);
    }
  }

  /** Stops taking keys and waits up to `timeoutMs` for the ones in flight. */
  async stop(timeoutMs: number): Promise<boolean> {
    const drained = await this.deps.queue.drain(timeoutMs);
    if (drained) await Promise.all(this.workers);
    return drained;
  }

  private onPod(deleted: boolean, pod: PodView & { metadata?: { namespace?: string; name?: string } }): void {
    const [namespace, name] = nsName(pod);
    const key = `${namespace}/${name}`;
    if (deleted) {
      this.podShapes.delete(key);
    } else {
      const shape = JSON.stringify([pod.metadata?.labels ?? {}, isLivePod(pod)]);
      if (this.podShapes.get(key) === shape) return;
      this.podShapes.set(key, shape);
    }
    // The policies of its namespace may count it differently now.
    this.enqueuePolicies(namespace, undefined);
  }

  private async work(): Promise<void> {
    for (;;) {
      const key = await this.deps.queue.get();
      if (key === undefined) return;
      try {
        await this.process(key);
      } finally {
        this.deps.queue.done(key);
      }
    }
  }

  private async process(key: ReconcileKey): Promise<void> {
    const { kind, namespace, name } = key;
    const started = process.hrtime.bigint();
    let label: ResultLabel = 'success';
    try {
      const r: ReconcileResult =
        kind === 'TokenPolicy'
          ? await this.deps.policies.reconcile(namespace, name)
          : await this.deps.revocations.reconcile(namespace, name);
      if (r.retry === true) {
        label = 'requeue';
        this.deps.queue.addRateLimited(key);
      } else {
        this.deps.queue.forget(key);
        if (r.requeueAfterMs !== undefined) this.deps.queue.addAfter(key, r.requeueAfterMs);
      }
    } catch (err) {
      const status = apiStatus(err);
      const delayMs = this.deps.queue.addRateLimited(key);
      // 409: computed from a cached object older than the stored one (our own last write, say);
      // the newer version is reconciled next. Expected, so neither an error nor a warning.
      label = status === 409 ? 'requeue' : 'error';
      const level = status === 409 ? 'debug' : 'warn';
      this.deps.log[level](
        { kind, namespace, name, status, err: apiMessage(err), delayMs },
        'reconcile failed',
      );
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    this.deps.metrics?.reconcileTotal.inc({ kind, result: label });
    this.deps.metrics?.reconcileDuration.observe({ kind, result: label }, seconds);
    if (kind === 'TokenPolicy' && this.deps.metrics !== undefined) {
      const counts = this.deps.policies.counts();
      counts.unknown = Math.max(
        0,
        this.deps.informers.policies.cache.list().length - counts.true - counts.false,
      );
      setPolicyReadiness(this.deps.metrics, counts);
    }
  }
}
