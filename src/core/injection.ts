/**
 * The names an injected pod carries, and the two questions asked of any pod, in one place: the
 * webhook (src/operator/webhook) injects by them and the policy status (src/operator/policy)
 * counts unprotected pods by them, so the two cannot disagree.
 */
export const SIDECAR_NAME = 'tokenwarden-sidecar';
export const CAPTURE_NAME = 'tokenwarden-capture';
/** The sidecar's proxy and admin ports inside the pod (an app must not use them). */
export const PROXY_PORT = 15080;
export const ADMIN_PORT = 15090;
/** The sidecar's UID and GID; the capture rules exempt this UID so the sidecar reaches the app. */
export const SIDECAR_UID = 15080;

export const ANNOTATION_INJECT = 'tokenwarden.dev/inject';
export const ANNOTATION_CAPTURE = 'tokenwarden.dev/capture';
export const ANNOTATION_INJECTED = 'tokenwarden.dev/injected';

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
