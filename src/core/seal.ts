/**
 * The seal: how the operator recognises its own injection. An HMAC-SHA256, under a key only the
 * operator holds (Secret `tokenwarden-seal` in its namespace), over the security-relevant fields
 * of the containers it injected (name, image, command, args, restartPolicy, the securityContext
 * fields that decide privileges) and the pod's namespace, written as the annotation
 * `tokenwarden.dev/seal`. A pod author can name a container `tokenwarden-sidecar` or copy the
 * annotation; without the key they cannot make a seal that matches other containers.
 *
 * Fields other webhooks and API defaulting commonly touch (env, volumeMounts, resources, probes'
 * defaults) are left out on purpose, so an env-injecting webhook after ours does not turn every
 * pod into a look-alike; what they could change does not turn capture or the sidecar off.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ANNOTATION_INJECTED, CAPTURE_NAME, SIDECAR_NAME } from './injection.js';

export const ANNOTATION_SEAL = 'tokenwarden.dev/seal';
const VERSION = 'v1';
/** The key length the operator creates; shorter keys are refused where a key is loaded. */
export const SEAL_KEY_BYTES = 32;

/** What a container looks like to the seal (a V1Container and the operator's pod cache fit). */
export interface SealedContainerShape {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  restartPolicy?: string;
  securityContext?: {
    runAsUser?: number;
    runAsGroup?: number;
    runAsNonRoot?: boolean;
    privileged?: boolean;
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    capabilities?: { add?: string[]; drop?: string[] };
  };
}

export interface SealPodShape {
  metadata?: { namespace?: string; annotations?: Record<string, string> };
  spec?: { initContainers?: SealedContainerShape[]; containers?: SealedContainerShape[] };
}

const INJECTED_NAMES: ReadonlySet<string> = new Set([SIDECAR_NAME, CAPTURE_NAME]);

/** The containers carrying an injected name, init containers first, in pod order. */
export function injectedContainers(pod: SealPodShape): { where: string; c: SealedContainerShape }[] {
  return [
    ...(pod.spec?.initContainers ?? []).map((c) => ({ where: 'init', c })),
    ...(pod.spec?.containers ?? []).map((c) => ({ where: 'app', c })),
  ].filter((x) => INJECTED_NAMES.has(x.c.name));
}

/** Key order fixed here, so the same containers always give the same bytes. */
function project({ where, c }: { where: string; c: SealedContainerShape }): unknown {
  const sc = c.securityContext;
  return [
    where,
    c.name,
    c.image ?? null,
    c.command ?? null,
    c.args ?? null,
    c.restartPolicy ?? null,
    sc === undefined
      ? null
      : [
          sc.runAsUser ?? null,
          sc.runAsGroup ?? null,
          sc.runAsNonRoot ?? null,
          sc.privileged ?? null,
          sc.allowPrivilegeEscalation ?? null,
          sc.readOnlyRootFilesystem ?? null,
          sc.capabilities?.add ?? null,
          sc.capabilities?.drop ?? null,
        ],
  ];
}

export function computeSeal(pod: SealPodShape, namespace: string, key: Uint8Array): string {
  const body = JSON.stringify(['tokenwarden-seal', VERSION, namespace, injectedContainers(pod).map(project)]);
  return `${VERSION}.${createHmac('sha256', key).update(body).digest('base64url')}`;
}

/**
 * - `none`: nothing injected-looking (no injected container name, no seal, no injected stamp);
 * - `sealed`: the seal matches the injected containers (the operator injected them);
 * - `lookalike`: anything else: an injected name or annotation the operator did not seal.
 */
export type InjectionState = 'none' | 'sealed' | 'lookalike';

export function injectionState(pod: SealPodShape, namespace: string, key: Uint8Array): InjectionState {
  const annotations = pod.metadata?.annotations ?? {};
  const seal = annotations[ANNOTATION_SEAL];
  const containers = injectedContainers(pod);
  if (seal === undefined && containers.length === 0 && annotations[ANNOTATION_INJECTED] === undefined) {
    return 'none';
  }
  if (seal === undefined || containers.length === 0) return 'lookalike';
  const want = Buffer.from(computeSeal(pod, namespace, key));
  const got = Buffer.from(seal);
  return want.length === got.length && timingSafeEqual(want, got) ? 'sealed' : 'lookalike';
}
