/**
 * The controller: informer events become queue keys (never work done in a handler), workers
 * take keys one at a time each and hand them to the reconciler of their kind. The revocation
 * index is kept current from the events themselves, so a policy reconciled right after a
 * revocation changed already counts it.
 */
import type { Logger } from '../log/logger.js';
import {
  setPolicyReadiness,
  type OperatorMetrics,
  type ReconcileKind,
  type ReconcileResultLabel as ResultLabel,
} from '../metrics/operator.js';
import type { TokenRevocation } from '../policy/types.js';
import { validateRevocation } from '../policy/validate.js';
import type { Informers, RawObject } from './informers.js';
import { apiMessage, apiStatus } from './k8s.js';
import type { WorkQueue } from './queue.js';
import type { PolicyReconciler, ReconcileResult } from './reconcile.js';
import type { RevocationReconciler } from './reconcile-revocation.js';
import type { RevocationIndex } from './revocations.js';
import { isLivePod, type PodView } from './selector.js';

export interface ControllerDeps {
  readonly informers: Informers;
  readonly queue: WorkQueue;
  readonly index: RevocationIndex;
  readonly policies: PolicyReconciler;
  readonly revocations: RevocationReconciler;
  readonly log: Logger;
  readonly metrics?: OperatorMetrics;
  readonly workers?: number;
}

export function queueKey(kind: ReconcileKind, namespace: string, name: string): string {
  return `${kind}/${namespace}/${name}`;
}

export function parseQueueKey(key: string): { kind: ReconcileKind; namespace: string; name: string } {
  const [kind = '', namespace = '', ...rest] = key.split('/');
  return { kind: kind as ReconcileKind, namespace, name: rest.join('/') };
}

function nsName(obj: { metadata?: { namespace?: string; name?: string } }): [string, string] {
  return [obj.metadata?.namespace ?? '', obj.metadata?.name ?? ''];
}

export class Controller {
  private workers: Promise<void>[] = [];
  /** What matching looks at, per pod: a status update that changes none of it changes no count. */
  private readonly podShapes = new Map<string, string>();

  constructor(private readonly d: ControllerDeps) {
    const { informers } = d;
    informers.policies.onEvent((_, obj) => d.queue.add(queueKey('TokenPolicy', ...nsName(obj))));
    informers.revocations.onEvent((event, obj) => this.onRevocation(event === 'delete', obj));
    informers.pods.onEvent((event, pod) => this.onPod(event === 'delete', pod));
  }

  /** Starts the workers; call once the informers have synced. */
  start(): void {
    const n = this.d.workers ?? 4;
    for (let i = 0; i < n; i++) this.workers.push(this.work());
    this.enqueueAll();
  }

  /** One object, from outside the informers (the replica summaries moved). */
  enqueue(kind: ReconcileKind, namespace: string, name: string): void {
    this.d.queue.add(queueKey(kind, namespace, name));
  }

  /** Every known object, as on a resync or when this replica becomes leader. */
  enqueueAll(): void {
    for (const p of this.d.informers.policies.cache.list())
      this.d.queue.add(queueKey('TokenPolicy', ...nsName(p)));
    for (const r of this.d.informers.revocations.cache.list())
      this.d.queue.add(queueKey('TokenRevocation', ...nsName(r)));
  }

  /** Stops taking keys and waits up to `timeoutMs` for the ones in flight. */
  async stop(timeoutMs: number): Promise<boolean> {
    const drained = await this.d.queue.drain(timeoutMs);
    if (drained) await Promise.all(this.workers);
    return drained;
  }

  private onRevocation(deleted: boolean, obj: RawObject): void {
    const [namespace, name] = nsName(obj);
    const old = this.d.index.remove(namespace, name);
    let next: TokenRevocation | undefined;
    if (!deleted) {
      const v = validateRevocation(obj);
      if (v.ok) this.d.index.upsert((next = v.value));
      this.d.queue.add(queueKey('TokenRevocation', namespace, name));
    }
    // Both the policy it used to name and the one it names now may count it differently.
    for (const rev of [old, next])
      if (rev !== undefined) this.enqueuePolicies(namespace, rev.spec.policyName);
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

  /** The named policy, or every policy of the namespace when `policyName` is undefined. */
  private enqueuePolicies(namespace: string, policyName: string | undefined): void {
    if (policyName !== undefined) return this.d.queue.add(queueKey('TokenPolicy', namespace, policyName));
    for (const p of this.d.informers.policies.cache.list(namespace)) {
      this.d.queue.add(queueKey('TokenPolicy', ...nsName(p)));
    }
  }

  private async work(): Promise<void> {
    for (;;) {
      const key = await this.d.queue.get();
      if (key === undefined) return;
      try {
        await this.process(key);
      } finally {
        this.d.queue.done(key);
      }
    }
  }

  private async process(key: string): Promise<void> {
    const { kind, namespace, name } = parseQueueKey(key);
    const started = process.hrtime.bigint();
    let label: ResultLabel = 'success';
    try {
      const r: ReconcileResult =
        kind === 'TokenPolicy'
          ? await this.d.policies.reconcile(namespace, name)
          : await this.d.revocations.reconcile(namespace, name);
      if (r.retry === true) {
        label = 'requeue';
        this.d.queue.addRateLimited(key);
      } else {
        this.d.queue.forget(key);
        if (r.requeueAfterMs !== undefined) this.d.queue.addAfter(key, r.requeueAfterMs);
      }
    } catch (err) {
      const status = apiStatus(err);
      const delayMs = this.d.queue.addRateLimited(key);
      // 409: computed from a cached object older than the stored one (our own last write, say);
      // the newer version is reconciled next. Expected, so neither an error nor a warning.
      label = status === 409 ? 'requeue' : 'error';
      const level = status === 409 ? 'debug' : 'warn';
      this.d.log[level]({ kind, namespace, name, status, err: apiMessage(err), delayMs }, 'reconcile failed');
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    this.d.metrics?.reconcileTotal.inc({ kind, result: label });
    this.d.metrics?.reconcileDuration.observe({ kind, result: label }, seconds);
    if (kind === 'TokenPolicy' && this.d.metrics !== undefined) {
      const counts = this.d.policies.counts();
      counts.unknown = Math.max(
        0,
        this.d.informers.policies.cache.list().length - counts.true - counts.false,
      );
      setPolicyReadiness(this.d.metrics, counts);
    }
  }
}
