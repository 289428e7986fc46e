/**
 * TokenPolicy reconcile, level-based: whatever event brought the key here, look at the policy
 * as it is now (informer cache), decide readiness (readiness.ts), count matching pods and the
 * revocation entries that apply, and write the status only if it differs from the stored one.
 * Running it twice in a row changes nothing the second time.
 */
import type { ObjectCache } from '@kubernetes/client-node';
import type { Logger } from '../../log/logger.js';
import type { Readiness } from '../../metrics/operator.js';
import type { TokenPolicyStatus } from '../../policy/types.js';
import { policyWarnings } from '../../policy/warnings.js';
import {
  READY,
  desiredPolicyStatus,
  findCondition,
  readyTransitionEvent,
  statusChanged,
  unprotectedPodsEvent,
} from '../status/conditions.js';
import { countByReason } from '../status/protection.js';
import type { ReconcileResult } from '../runtime/reconcile-key.js';
import { objectKey } from '../runtime/k8s.js';
import type { SharedKeys } from './keys.js';
import { rawSelector, type PolicyCatalog } from './catalog.js';
import { decideReady } from './readiness.js';
import type { RevocationIndex } from '../revocation/revocation-index.js';
import { countMatchedPods, isLivePod, matchesSelector, type PodView } from './selector.js';
import { unprotectedPodsOf, type UnprotectedPod } from '../status/protection.js';
import type { StatusWriter } from '../status/status-writer.js';
import type { UnprotectedGauge } from '../status/unprotected-gauge.js';

export interface PolicyReconcilerDeps {
  readonly catalog: PolicyCatalog;
  readonly pods: ObjectCache<PodView>;
  readonly revocations: RevocationIndex;
  readonly keys: SharedKeys;
  readonly writer: StatusWriter;
  readonly log: Logger;
  readonly now?: () => number;
  /** Sidecars acknowledging the current config of `namespace/name`, summed over replicas. */
  readonly synced?: (key: string) => number;
  /** The seal key (webhook/seal-key.ts): without it a pod with the sidecar's name counts as protected. */
  readonly sealKey?: Uint8Array;
  readonly unprotectedGauge?: UnprotectedGauge;
  /**
   * A number that moves whenever the pod cache may have changed (runtime/pods.ts `epoch`). With it, what a reconcile derives from the namespace's pods is kept until it moves:
   * a burst of revocations (each re-counts its policy) does not re-judge every pod each time.
   */
  readonly podsEpoch?: () => number;
}

/** What a reconcile derives from the pods, and what it was derived from. */
interface PodFigures {
  readonly epoch: number;
  readonly selector: string;
  readonly targetPort: number | undefined;
  readonly matched: number;
  readonly unprotected: UnprotectedPod[];
}

export class PolicyReconciler {
  /** Readiness of every known policy, for the tokenwarden_operator_policies gauge. */
  readonly readiness = new Map<string, Readiness>();
  private readonly now: () => number;
  private readonly podFigures = new Map<string, PodFigures>();

  constructor(private readonly deps: PolicyReconcilerDeps) {
    this.now = deps.now ?? Date.now;
  }

  async reconcile(namespace: string, name: string): Promise<ReconcileResult> {
    const key = objectKey(namespace, name);
    const obj = this.deps.catalog.get(namespace, name);
    if (obj === undefined) {
      // Deleted: nothing to write; forget what was derived from it.
      this.readiness.delete(key);
      this.deps.catalog.forget(key);
      this.deps.keys.forget(key);
      this.deps.unprotectedGauge?.forget(namespace, name);
      this.podFigures.delete(key);
      return {};
    }
    const decision = await decideReady(
      obj,
      (issuers) => this.deps.keys.ensure(key, issuers),
      // Checked once per generation by the catalog: pods churning do not recompile.
      this.deps.catalog.validated(obj).spec,
    );
    this.readiness.set(key, decision.ready.status === 'True' ? 'true' : 'false');

    const nowMs = this.now();
    const selector = decision.policy?.spec.selector ?? rawSelector(obj);
    const current = obj.status as TokenPolicyStatus | undefined;
    const { matched, unprotected } = this.figures(key, namespace, selector, decision.policy?.spec.targetPort);
    this.deps.unprotectedGauge?.set(namespace, name, countByReason(unprotected));
    const desired = desiredPolicyStatus(
      current,
      {
        generation: obj.metadata?.generation ?? 0,
        ready: decision.ready,
        matchedPods: matched,
        revocations: this.deps.revocations.countEntries(namespace, name, nowMs),
        unprotectedPods: unprotected,
        // Only a spec that compiled can be judged; an invalid one keeps its last Warnings.
        ...(decision.compiled === undefined ? {} : { warnings: policyWarnings(decision.compiled) }),
        ...(this.deps.synced === undefined ? {} : { syncedSidecars: this.deps.synced(key) }),
      },
      new Date(nowMs),
    );
    const outcome = await this.deps.writer.writeStatus(
      'TokenPolicy',
      obj,
      desired,
      statusChanged(current, desired),
    );
    if (outcome === 'written') {
      const next = findCondition(desired.conditions, READY);
      const event = next && readyTransitionEvent(findCondition(current?.conditions, READY), next);
      if (event !== undefined) await this.deps.writer.event('TokenPolicy', obj, event);
      const warning = unprotectedPodsEvent(current?.unprotectedPods ?? 0, unprotected);
      if (warning !== undefined) await this.deps.writer.event('TokenPolicy', obj, warning);
      this.deps.log.info(
        { namespace, name, generation: desired.observedGeneration, reason: decision.ready.reason },
        'policy status updated',
      );
    }
    // Keys may come back by themselves (the store retries); until then keep looking, backed off.
    return decision.ready.reason === 'KeysUnavailable' ? { retry: true } : {};
  }

  /** Matched and unprotected pods of the policy: from the pod cache, or as last derived when no pod moved. */
  private figures(
    key: string,
    namespace: string,
    selector: Parameters<typeof matchesSelector>[0],
    targetPort: number | undefined,
  ): Pick<PodFigures, 'matched' | 'unprotected'> {
    const epoch = this.deps.podsEpoch?.();
    const selectorKey = JSON.stringify(selector);
    const held = this.podFigures.get(key);
    if (
      epoch !== undefined &&
      held?.epoch === epoch &&
      held.selector === selectorKey &&
      held.targetPort === targetPort
    )
      return held;
    const pods = this.deps.pods.list(namespace);
    const selected = pods.filter((p) => isLivePod(p) && matchesSelector(selector, p.metadata?.labels));
    const unprotected = unprotectedPodsOf(selected, namespace, {
      ...(this.deps.sealKey === undefined ? {} : { sealKey: this.deps.sealKey }),
      ...(targetPort === undefined ? {} : { targetPort }),
    });
    const matched = countMatchedPods(selector, pods);
    if (epoch !== undefined)
      this.podFigures.set(key, { epoch, selector: selectorKey, targetPort, matched, unprotected });
    return { matched, unprotected };
  }

  counts(): Record<Readiness, number> {
    const c: Record<Readiness, number> = { true: 0, false: 0, unknown: 0 };
    for (const r of this.readiness.values()) c[r]++;
    return c;
  }
}
