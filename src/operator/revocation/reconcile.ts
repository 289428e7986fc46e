/**
 * TokenRevocation reconcile, level-based: validate the object as it is now and keep the
 * revocation index current (every replica, leader or not; the policies it names are enqueued
 * to count it), collect it if it is past `expiresAt` (leader only, gc.ts decides), otherwise
 * keep `status.entries` (the Entries printer column) and a Ready condition current, and come
 * back at the expiry instant.
 */
import type { CustomObjectsApi, ObjectCache } from '@kubernetes/client-node';
import { isDeepStrictEqual } from 'node:util';
import type { Logger } from '../../log/logger.js';
import type { OperatorMetrics } from '../../metrics/operator.js';
import type { Condition, TokenRevocation } from '../../policy/types.js';
import { validateRevocation } from '../../policy/validate.js';
import type { RawObject } from '../runtime/informers.js';
import type { ReconcileResult } from '../runtime/reconcile-key.js';
import {
  READY,
  findCondition,
  readyTransitionEvent,
  setCondition,
  type EventSpec,
} from '../status/conditions.js';
import { formatFieldErrors, type ReadyState, type RevocationReadyReason } from '../status/ready-reasons.js';
import type { StatusWriter } from '../status/status-writer.js';
import { collectRevocation, gcDecision } from './gc.js';
import type { RevocationIndex } from './revocation-index.js';

/** What the leader writes (summed from the replicas' summaries, stream/summary.ts) for a revocation generation once every replica's sidecars acked it. */
export interface AggregatedAck {
  readonly generation: number;
  readonly acknowledgedAt: number;
  readonly propagationSeconds: number;
  readonly sidecars: number;
}

export interface RevocationStatus {
  observedGeneration?: number;
  entries?: number;
  conditions?: Condition[];
  /** The generation the acknowledgement fields describe. */
  acknowledgedGeneration?: number;
  acknowledgedAt?: string;
  propagationSeconds?: number;
  acknowledgedSidecars?: number;
}

/** Propagation slower than this earns a Warning Event (the product promises a second). */
export const SLOW_PROPAGATION_SECONDS = 1;

export interface RevocationReconcilerDeps {
  readonly revocations: ObjectCache<RawObject>;
  /** Valid revocations by namespace and policy, read by the policy reconciler. */
  readonly index: RevocationIndex;
  /** Enqueues the named policy, or every policy of the namespace when `policyName` is undefined. */
  readonly enqueuePolicies: (namespace: string, policyName: string | undefined) => void;
  readonly custom: CustomObjectsApi;
  readonly writer: StatusWriter;
  readonly log: Logger;
  readonly metrics?: OperatorMetrics;
  readonly now?: () => number;
  /** Acknowledgement of `namespace/name` at this uid and generation, over every replica. */
  readonly acknowledgement?: (key: string, uid: string, generation: number) => AggregatedAck | undefined;
}

/** The status a revocation should have; pure. */
export function desiredRevocationStatus(
  current: RevocationStatus | undefined,
  generation: number,
  entries: number,
  ready: ReadyState<RevocationReadyReason>,
  now: Date,
  ack?: AggregatedAck,
): RevocationStatus {
  const acked =
    ack !== undefined && ack.generation === generation
      ? {
          acknowledgedGeneration: ack.generation,
          acknowledgedAt: new Date(ack.acknowledgedAt).toISOString(),
          propagationSeconds: Math.round(ack.propagationSeconds * 1000) / 1000,
          acknowledgedSidecars: ack.sidecars,
        }
      : {
          // Not (yet) known for this generation: keep what is stored; acknowledgedGeneration says which it was.
          ...(current?.acknowledgedGeneration === undefined
            ? {}
            : { acknowledgedGeneration: current.acknowledgedGeneration }),
          ...(current?.acknowledgedAt === undefined ? {} : { acknowledgedAt: current.acknowledgedAt }),
          ...(current?.propagationSeconds === undefined
            ? {}
            : { propagationSeconds: current.propagationSeconds }),
          ...(current?.acknowledgedSidecars === undefined
            ? {}
            : { acknowledgedSidecars: current.acknowledgedSidecars }),
        };
  return {
    observedGeneration: generation,
    entries,
    conditions: setCondition(
      current?.conditions,
      { type: READY, ...ready, observedGeneration: generation },
      now,
    ),
    ...acked,
  };
}

/** The Event for a generation acknowledged for the first time, when it took too long. */
export function slowPropagationEvent(
  current: RevocationStatus | undefined,
  desired: RevocationStatus,
): EventSpec | undefined {
  if (desired.acknowledgedGeneration === undefined || desired.propagationSeconds === undefined)
    return undefined;
  if (
    current?.acknowledgedGeneration === desired.acknowledgedGeneration &&
    current.acknowledgedAt !== undefined
  )
    return undefined;
  if (desired.propagationSeconds <= SLOW_PROPAGATION_SECONDS) return undefined;
  return {
    type: 'Warning',
    reason: 'SlowPropagation',
    message: `${desired.acknowledgedSidecars ?? 0} sidecars took ${desired.propagationSeconds} s to acknowledge generation ${desired.acknowledgedGeneration} (bound: ${SLOW_PROPAGATION_SECONDS} s)`,
  };
}

function revocationStatusChanged(current: RevocationStatus | undefined, desired: RevocationStatus): boolean {
  const view = (s: RevocationStatus | undefined): unknown => ({
    observedGeneration: s?.observedGeneration,
    entries: s?.entries,
    conditions: s?.conditions ?? [],
    acknowledgedGeneration: s?.acknowledgedGeneration,
    acknowledgedAt: s?.acknowledgedAt,
    propagationSeconds: s?.propagationSeconds,
    acknowledgedSidecars: s?.acknowledgedSidecars,
  });
  return !isDeepStrictEqual(view(current), view(desired));
}

export class RevocationReconciler {
  private readonly now: () => number;

  constructor(private readonly deps: RevocationReconcilerDeps) {
    this.now = deps.now ?? Date.now;
  }

  /**
   * Puts the revocation as it is now (valid, or absent) in the index and enqueues the policies
   * it named before and names now: both may count it differently. Synchronous; no writes.
   */
  reindex(namespace: string, name: string): void {
    this.index(namespace, name, this.deps.revocations.get(name, namespace));
  }

  private index(
    namespace: string,
    name: string,
    obj: RawObject | undefined,
  ): ReturnType<typeof validateRevocation> | undefined {
    const old = this.deps.index.remove(namespace, name);
    const validated = obj === undefined ? undefined : validateRevocation(obj);
    let next: TokenRevocation | undefined;
    if (validated?.ok === true) this.deps.index.upsert((next = validated.value));
    for (const rev of [old, next])
      if (rev !== undefined) this.deps.enqueuePolicies(namespace, rev.spec.policyName);
    return validated;
  }

  async reconcile(namespace: string, name: string): Promise<ReconcileResult> {
    const obj = this.deps.revocations.get(name, namespace);
    const validated = this.index(namespace, name, obj);
    if (obj === undefined || validated === undefined) return {};
    const nowMs = this.now();
    const spec = validated.ok ? validated.value.spec : undefined;
    const gc = gcDecision(spec?.expiresAt, nowMs);
    if (gc.action === 'delete') {
      if (!this.deps.writer.isLeader()) return {};
      const result = await collectRevocation(this.deps.custom, { namespace, name, uid: obj.metadata?.uid });
      if (result === 'deleted') {
        this.deps.metrics?.revocationsCollected.inc();
        this.deps.log.info({ namespace, name, expiresAt: spec?.expiresAt }, 'expired revocation collected');
      }
      return {};
    }
    const ready = validated.ok
      ? {
          status: 'True' as const,
          reason: 'Accepted' as const,
          message: `${validated.value.spec.tokens.length} entries, applied to ${
            validated.value.spec.policyName === undefined
              ? 'every policy in the namespace'
              : `policy ${validated.value.spec.policyName}`
          }`,
        }
      : {
          status: 'False' as const,
          reason: 'InvalidSpec' as const,
          message: formatFieldErrors(validated.errors),
        };
    const tokens = (obj.spec as { tokens?: unknown } | undefined)?.tokens;
    const entries = Array.isArray(tokens) ? tokens.length : 0;
    const current = obj.status as RevocationStatus | undefined;
    const desired = desiredRevocationStatus(
      current,
      obj.metadata?.generation ?? 0,
      entries,
      ready,
      new Date(nowMs),
      this.deps.acknowledgement?.(
        `${namespace}/${name}`,
        obj.metadata?.uid ?? '',
        obj.metadata?.generation ?? 0,
      ),
    );
    const changed = revocationStatusChanged(current, desired);
    const outcome = await this.deps.writer.writeStatus('TokenRevocation', obj, desired, changed);
    if (outcome === 'written') {
      const next = findCondition(desired.conditions, READY);
      const event = next && readyTransitionEvent(findCondition(current?.conditions, READY), next);
      // A valid revocation being accepted is routine; only a refused one is worth an Event.
      if (event !== undefined && event.type === 'Warning')
        await this.deps.writer.event('TokenRevocation', obj, event);
      const slow = slowPropagationEvent(current, desired);
      if (slow !== undefined) await this.deps.writer.event('TokenRevocation', obj, slow);
    }
    return gc.recheckInMs === undefined ? {} : { requeueAfterMs: gc.recheckInMs };
  }
}
