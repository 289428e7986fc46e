/**
 * Whether a pod a TokenPolicy selects is protected, and if not why (core/injection.ts
 * UNPROTECTED_REASONS), pure. Protected means: the operator's own injection (a valid seal),
 * with the capture init container, guarding the policy's targetPort, next to app containers
 * that cannot undo capture. The webhook refuses most of the rest in strict namespaces; this
 * counts what got through anyway (created before the policy or the namespace label, in a
 * permissive namespace, or while the webhook was not called).
 */
import {
  CAPTURE_NAME,
  SIDECAR_NAME,
  hasSidecar,
  optedOut,
  type UnprotectedReason,
} from '../../core/injection.js';
import { injectedContainers, injectionState, type SealPodShape } from '../../core/seal.js';
import { unsafeAppContainers, type UnsafePodShape } from '../../core/unsafe.js';

export type ProtectionPod = SealPodShape & UnsafePodShape & { metadata?: { name?: string } };

export interface ProtectionInputs {
  /** The seal key; without it (tests, tools) a pod with the sidecar's name counts as protected. */
  readonly sealKey?: Uint8Array;
  /** The policy's targetPort now; undefined when the spec did not compile (not judged). */
  readonly targetPort?: number;
}

export interface UnprotectedPod {
  readonly name: string;
  readonly reason: UnprotectedReason;
}

function flagValue(args: readonly string[] | undefined, flag: string): string | undefined {
  const i = (args ?? []).indexOf(flag);
  return i < 0 ? undefined : args?.[i + 1];
}

/** Whether the injected sidecar and capture guard `targetPort`. */
function guardsPort(pod: SealPodShape, targetPort: number): boolean {
  for (const { c } of injectedContainers(pod)) {
    if (c.name === SIDECAR_NAME && flagValue(c.args, '--upstream') !== `http://127.0.0.1:${targetPort}`) {
      return false;
    }
    if (c.name === CAPTURE_NAME && flagValue(c.args, '--target-port') !== String(targetPort)) return false;
  }
  return true;
}

export function unprotectedReason(
  pod: ProtectionPod,
  namespace: string,
  inputs: ProtectionInputs,
): UnprotectedReason | undefined {
  const state =
    inputs.sealKey === undefined
      ? hasSidecar(pod)
        ? 'sealed'
        : 'none'
      : injectionState(pod, namespace, inputs.sealKey);
  if (state === 'none') return optedOut(pod) ? 'opted_out' : 'no_sidecar';
  if (state === 'lookalike') return 'lookalike';
  if (unsafeAppContainers(pod).length > 0) return 'unsafe_app_container';
  if (!injectedContainers(pod).some(({ c }) => c.name === CAPTURE_NAME)) return 'capture_off';
  if (inputs.targetPort !== undefined && !guardsPort(pod, inputs.targetPort)) return 'wrong_port';
  return undefined;
}

/** The unprotected pods among `selected` (live pods the policy selects), sorted by name. */
export function unprotectedPodsOf(
  selected: readonly ProtectionPod[],
  namespace: string,
  inputs: ProtectionInputs,
): UnprotectedPod[] {
  const out: UnprotectedPod[] = [];
  for (const pod of selected) {
    const reason = unprotectedReason(pod, namespace, inputs);
    if (reason !== undefined) out.push({ name: pod.metadata?.name ?? '', reason });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** `{ reason: count }`, reasons with no pod left out. */
export function countByReason(pods: readonly UnprotectedPod[]): Partial<Record<UnprotectedReason, number>> {
  const out: Partial<Record<UnprotectedReason, number>> = {};
  for (const p of pods) out[p.reason] = (out[p.reason] ?? 0) + 1;
  return out;
}
