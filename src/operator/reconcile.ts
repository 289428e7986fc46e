/**
 * TokenPolicy reconcile, level-based: whatever event brought the key here, look at the policy
 * as it is now (informer cache), decide readiness (readiness.ts), count matching pods and the
 * revocation entries that apply, and write the status only if it differs from the stored one.
 * Running it twice in a row changes nothing the second time.
 */
import type { ObjectCache } from '@kubernetes/client-node';
import type { Logger } from '../log/logger.js';
import type { Readiness } from '../metrics/operator.js';
import type { CompiledPolicy, LabelSelector, TokenPolicyStatus } from '../policy/types.js';
import {
  READY,
  desiredPolicyStatus,
  findCondition,
  readyTransitionEvent,
  statusChanged,
} from './conditions.js';
import type { RawObject } from './informers.js';
import { objectKey } from './k8s.js';
import type { SharedKeys } from './keys.js';
import { checkSpec, decideReady, type SpecCheck } from './readiness.js';
import type { RevocationIndex } from './revocations.js';
import { countMatchedPods, type PodView } from './selector.js';
import type { StatusWriter } from './status.js';

/** What the worker does with the key next. */
export interface ReconcileResult {
  /** Not done: try again after the key's backoff (without counting as an error). */
  readonly retry?: boolean;
  /** Done; look again after this long anyway (a revocation's expiry). */
  readonly requeueAfterMs?: number;
}

export interface PolicyReconcilerDeps {
  readonly policies: ObjectCache<RawObject>;
  readonly pods: ObjectCache<PodView>;
  readonly revocations: RevocationIndex;
  readonly keys: SharedKeys;
  readonly writer: StatusWriter;
  readonly log: Logger;
  readonly now?: () => number;
  /** Sidecars acknowledging the current config of `namespace/name`, summed over replicas. */
  readonly synced?: (key: string) => number;
}

function rawSelector(obj: RawObject): LabelSelector | undefined {
  const sel = (obj.spec as { selector?: unknown } | undefined)?.selector;
  return typeof sel === 'object' && sel !== null ? sel : undefined;
}

export class PolicyReconciler {
  /** The compiled form of every Ready policy: what the distribution server hands to sidecars. */
  readonly compiled = new Map<string, CompiledPolicy>();
  /** Readiness of every known policy, for the tokenwarden_operator_policies gauge. */
  readonly readiness = new Map<string, Readiness>();
  /** The spec check of the generation last seen, per policy: pods churning do not recompile. */
  private readonly specs = new Map<string, { stamp: string; spec: SpecCheck }>();
  private readonly now: () => number;

  constructor(private readonly d: PolicyReconcilerDeps) {
    this.now = d.now ?? Date.now;
  }

  async reconcile(namespace: string, name: string): Promise<ReconcileResult> {
    const key = objectKey(namespace, name);
    const obj = this.d.policies.get(name, namespace);
    if (obj === undefined) {
      // Deleted: nothing to write; forget what was derived from it.
      this.compiled.delete(key);
      this.readiness.delete(key);
      this.specs.delete(key);
      this.d.keys.forget(key);
      return {};
    }
    const decision = await decideReady(
      obj,
      (issuers) => this.d.keys.ensure(key, issuers),
      this.specCheck(key, obj),
    );
    if (decision.ready.status === 'True' && decision.compiled) this.compiled.set(key, decision.compiled);
    else this.compiled.delete(key);
    this.readiness.set(key, decision.ready.status === 'True' ? 'true' : 'false');

    const nowMs = this.now();
    const selector = decision.policy?.spec.selector ?? rawSelector(obj);
    const current = obj.status as TokenPolicyStatus | undefined;
    const desired = desiredPolicyStatus(
      current,
      {
        generation: obj.metadata?.generation ?? 0,
        ready: decision.ready,
        matchedPods: countMatchedPods(selector, this.d.pods.list(namespace)),
        revocations: this.d.revocations.countEntries(namespace, name, nowMs),
        ...(this.d.synced === undefined ? {} : { syncedSidecars: this.d.synced(key) }),
      },
      new Date(nowMs),
    );
    const outcome = await this.d.writer.writeStatus(
      'TokenPolicy',
      obj,
      desired,
      statusChanged(current, desired),
    );
    if (outcome === 'written') {
      const next = findCondition(desired.conditions, READY);
      const event = next && readyTransitionEvent(findCondition(current?.conditions, READY), next);
      if (event !== undefined) await this.d.writer.event('TokenPolicy', obj, event);
      this.d.log.info(
        { namespace, name, generation: desired.observedGeneration, reason: decision.ready.reason },
        'policy status updated',
      );
    }
    // Keys may come back by themselves (the store retries); until then keep looking, backed off.
    return decision.ready.reason === 'KeysUnavailable' ? { retry: true } : {};
  }

  private specCheck(key: string, obj: RawObject): SpecCheck {
    // generation moves with every spec change (and only then); uid tells a re-created object apart.
    const stamp = `${obj.metadata?.uid ?? ''}/${obj.metadata?.generation ?? ''}`;
    const cached = this.specs.get(key);
    if (cached !== undefined && cached.stamp === stamp && obj.metadata?.generation !== undefined)
      return cached.spec;
    const spec = checkSpec(obj);
    this.specs.set(key, { stamp, spec });
    return spec;
  }

  counts(): Record<Readiness, number> {
    const c: Record<Readiness, number> = { true: 0, false: 0, unknown: 0 };
    for (const r of this.readiness.values()) c[r]++;
    return c;
  }
}
