/**
 * The names an injected pod carries, and the two questions asked of any pod, in one place: the
 * webhook (src/operator/webhook) injects by them and the policy status (src/operator/policy)
 * counts unprotected pods by them, so the two cannot disagree.
 */
export const SIDECAR_NAME = 'tokenwarden-sidecar';
export const CAPTURE_NAME = 'tokenwarden-capture';
/** The sidecar's proxy and admin ports and its UID, from the one module of ports. */
export { ADMIN_PORT, PROXY_PORT, SIDECAR_UID } from './ports.js';

export const ANNOTATION_INJECT = 'tokenwarden.dev/inject';
export const ANNOTATION_CAPTURE = 'tokenwarden.dev/capture';
export const ANNOTATION_INJECTED = 'tokenwarden.dev/injected';

/**
 * The namespace label `tokenwarden.dev/injection-policy`, set by the platform team: `permissive`
 * lets pods of the namespace opt out (`tokenwarden.dev/inject: "false"`), choose
 * `tokenwarden.dev/capture: none`, and run unsafe app containers (flagged and counted instead of
 * refused). Absent or anything else: strict. The chart registers one webhook per value (the API
 * server tells the operator which one applies by the path it calls), so the operator never reads
 * Namespaces.
 */
export type NamespacePolicy = 'strict' | 'permissive';

/**
 * Why a selected pod is not protected: the one closed set of the `reason` label of
 * tokenwarden_operator_unprotected_pods, of `status.unprotectedByReason` and of the
 * UnprotectedPods Event.
 *  - no_sidecar: nothing injected (created before the policy or outside an injection namespace);
 *  - opted_out: `tokenwarden.dev/inject: "false"` (a permissive namespace let it);
 *  - lookalike: injected-looking containers or annotations the operator did not seal;
 *  - capture_off: the sidecar runs without capture (`tokenwarden.dev/capture: none`): the app
 *    is only protected if it listens on loopback, which nobody can check from outside;
 *  - unsafe_app_container: an app container can undo capture or reach the sidecar's files;
 *  - wrong_port: the injected sidecar guards another port than the policy's targetPort now.
 */
export const UNPROTECTED_REASONS = [
  'no_sidecar',
  'opted_out',
  'lookalike',
  'capture_off',
  'unsafe_app_container',
  'wrong_port',
] as const;
export type UnprotectedReason = (typeof UNPROTECTED_REASONS)[number];

/** The parts of a Pod the two questions below read (a V1Pod and the operator's pod cache fit). */
export interface PodShape {
  metadata?: { annotations?: Record<string, string> };
  spec?: { initContainers?: { name: string }[]; containers?: { name: string }[] };
}

/** Whether the pod runs the sidecar. */
export function hasSidecar(pod: PodShape): boolean {
  const all = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
  return all.some((c) => c.name === SIDECAR_NAME);
}

/** `tokenwarden.dev/inject: "false"`: the owner chose no sidecar. */
export function optedOut(pod: PodShape): boolean {
  return pod.metadata?.annotations?.[ANNOTATION_INJECT] === 'false';
}
