/**
 * Status decisions, pure: what a TokenPolicy's status should be given what reconcile found,
 * whether that differs from what is stored (no difference → no write, so a status patch that
 * comes back through the watch cannot start a loop), and whether the Ready condition made a
 * transition worth an Event. `now` is passed in.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Condition, TokenPolicyStatus } from '../../policy/types.js';
import type { ReadyState } from './ready-reasons.js';
import { countByReason, type UnprotectedPod } from './protection.js';

export type { ReadyState } from './ready-reasons.js';

export const READY = 'Ready';
/**
 * Warnings=True when the policy is enforced but has a risky setting (src/policy/warnings.ts),
 * reason the first warning's, message every warning's; Warnings=False reason `None` otherwise.
 */
export const WARNINGS = 'Warnings';

/** What a policy reconcile found: the inputs of its status. */
export interface PolicyFacts {
  readonly generation: number;
  readonly ready: ReadyState;
  readonly matchedPods: number;
  readonly revocations: number;
  /** The selected pods running unprotected, with why (protection.ts unprotectedPodsOf). */
  readonly unprotectedPods: readonly UnprotectedPod[];
  /** From policyWarnings(compiled); absent when the spec did not compile (Warnings left as is). */
  readonly warnings?: readonly { readonly reason: string; readonly message: string }[];
  /** Sidecars acknowledging the current config, over every replica; undefined: keep as stored. */
  readonly syncedSidecars?: number;
}

/** API server limit on condition messages (metav1.Condition). */
const MAX_MESSAGE = 32_768;

/**
 * Returns `conditions` with `next` set. `lastTransitionTime` moves only when the status
 * changes, as the API conventions require; other conditions are kept as they are.
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  next: Omit<Condition, 'lastTransitionTime'>,
  now: Date,
): Condition[] {
  const list = conditions ?? [];
  const prev = list.find((c) => c.type === next.type);
  const message =
    next.message.length > MAX_MESSAGE ? `${next.message.slice(0, MAX_MESSAGE - 3)}...` : next.message;
  const lastTransitionTime =
    prev !== undefined && prev.status === next.status
      ? prev.lastTransitionTime
      : now.toISOString().replace(/\.\d+Z$/, 'Z');
  const updated: Condition = { ...next, message, lastTransitionTime };
  return prev === undefined ? [...list, updated] : list.map((c) => (c === prev ? updated : c));
}

export function findCondition(
  conditions: readonly Condition[] | undefined,
  type: string,
): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

export function desiredPolicyStatus(
  current: TokenPolicyStatus | undefined,
  facts: PolicyFacts,
  now: Date,
): TokenPolicyStatus {
  let conditions = setCondition(
    current?.conditions,
    { type: READY, ...facts.ready, observedGeneration: facts.generation },
    now,
  );
  const warnings = facts.warnings;
  const first = warnings?.[0];
  if (warnings !== undefined)
    conditions = setCondition(
      conditions,
      first === undefined
        ? {
            type: WARNINGS,
            status: 'False',
            reason: 'None',
            message: 'no warnings',
            observedGeneration: facts.generation,
          }
        : {
            type: WARNINGS,
            status: 'True',
            reason: first.reason,
            message: warnings.map((w) => w.message).join('; '),
            observedGeneration: facts.generation,
          },
      now,
    );
  return {
    observedGeneration: facts.generation,
    conditions,
    matchedPods: facts.matchedPods,
    // From the replicas' summaries (stream/replicas.ts); kept as found when unknown.
    syncedSidecars: facts.syncedSidecars ?? current?.syncedSidecars ?? 0,
    revocations: facts.revocations,
    unprotectedPods: facts.unprotectedPods.length,
    unprotectedByReason: countByReason(facts.unprotectedPods),
  };
}

/** The fields this operator owns, in a shape that compares equal when nothing changed. */
function comparable(s: TokenPolicyStatus | undefined): unknown {
  return {
    observedGeneration: s?.observedGeneration,
    conditions: (s?.conditions ?? []).map((c) => ({
      type: c.type,
      status: c.status,
      reason: c.reason,
      message: c.message,
      lastTransitionTime: c.lastTransitionTime,
      observedGeneration: c.observedGeneration,
    })),
    matchedPods: s?.matchedPods ?? 0,
    syncedSidecars: s?.syncedSidecars ?? 0,
    revocations: s?.revocations ?? 0,
    unprotectedPods: s?.unprotectedPods ?? 0,
    unprotectedByReason: s?.unprotectedByReason ?? {},
  };
}

export function statusChanged(current: TokenPolicyStatus | undefined, desired: TokenPolicyStatus): boolean {
  return !isDeepStrictEqual(comparable(current), comparable(desired));
}

export interface EventSpec {
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly message: string;
}

/**
 * An Event only when Ready changes status or reason (or first appears): a policy that stays
 * KeysUnavailable across a hundred retries produces one Warning, not a hundred.
 */
export function readyTransitionEvent(prev: Condition | undefined, next: Condition): EventSpec | undefined {
  if (prev !== undefined && prev.status === next.status && prev.reason === next.reason) return undefined;
  return { type: next.status === 'True' ? 'Normal' : 'Warning', reason: next.reason, message: next.message };
}

const NAMED_PODS = 5;

/**
 * A Warning `UnprotectedPods` when the number of selected pods running unprotected grows (first
 * seen, or more than the stored status said), naming them with their reasons. Pods without the
 * sidecar were created before the policy or outside a namespace labelled for injection, and only
 * a restart gives them the sidecar; the other reasons need the pod spec or the namespace changed.
 */
export function unprotectedPodsEvent(
  previous: number,
  pods: readonly UnprotectedPod[],
): EventSpec | undefined {
  if (pods.length === 0 || pods.length <= previous) return undefined;
  const shown = pods
    .slice(0, NAMED_PODS)
    .map((p) => `${p.name} (${p.reason})`)
    .join(', ');
  const more = pods.length > NAMED_PODS ? ` and ${pods.length - NAMED_PODS} more` : '';
  const reasons = Object.entries(countByReason(pods))
    .map(([r, n]) => `${r} ${n}`)
    .join(', ');
  return {
    type: 'Warning',
    reason: 'UnprotectedPods',
    message:
      `${pods.length} selected pod(s) run unprotected (${reasons}): ${shown}${more}. ` +
      'no_sidecar: label the namespace tokenwarden.dev/injection=enabled if it is not, then restart them ' +
      '(kubectl rollout restart deployment/<name>); the other reasons: fix the pod spec or the namespace ' +
      'label tokenwarden.dev/injection-policy, then re-create the pods.',
  };
}
