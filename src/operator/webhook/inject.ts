/**
 * Sidecar injection, pure (the linkerd/dapr model): a Pod, the TokenPolicy that selects it and
 * the injection settings in; the Pod to store and a report with a closed reason code out. The
 * admission handler (admission.ts) diffs the two pods into a JSON Patch; nothing here does I/O.
 *
 * What an injected pod gets (docs/contracts/in-cluster.md, "Injection"):
 * - `tokenwarden-capture` as the FIRST init container (iptables mode): redirects inbound TCP for
 *   the policy's targetPort to the sidecar, exempting the sidecar's UID. NET_ADMIN + NET_RAW only.
 * - `tokenwarden-sidecar` as a native sidecar (init container with `restartPolicy: Always`), before
 *   the app's own init containers, hardened, probed on the admin port.
 * - a projected ServiceAccount token (audience `tokenwarden`) and an emptyDir for the snapshot.
 * In no-privilege mode (`tokenwarden.dev/capture: none`) there is no capture container: the
 * sidecar declares the app's named port (pointing at 15080) and the app's port is renamed, so a
 * Service that targets the port by name reaches the sidecar. The app must then listen on loopback.
 */
import type { V1Container, V1ContainerPort, V1EnvVar, V1Pod } from '@kubernetes/client-node';
import type { CaptureMode, InjectionFileConfig } from '../../config/injection.js';
import {
  ADMIN_PORT,
  ANNOTATION_CAPTURE,
  ANNOTATION_INJECT,
  ANNOTATION_INJECTED,
  PROXY_PORT,
  SIDECAR_NAME,
  hasSidecar,
  optedOut,
} from '../../core/injection.js';
import { captureContainer, sidecarContainer, volumes } from './containers.js';
import { rewriteAppProbes, withAppProbes } from './probes.js';

export { CAPTURE_NAME, SIDECAR_NAME, hasSidecar, optedOut } from '../../core/injection.js';
export { STATE_DIR, TOKEN_AUDIENCE, TOKEN_DIR, TOKEN_FILE, captureArgs, sidecarArgs } from './containers.js';

const RESERVED_PORTS: ReadonlyMap<number, string> = new Map([
  [PROXY_PORT, 'proxy'],
  [ADMIN_PORT, 'admin'],
]);

/** Operator-wide injection settings: the chart's --injection-config, plus the serving CA. */
export interface InjectionSettings extends InjectionFileConfig {
  /** PEM of the CA that signs the operator's serving certificate (TOKENWARDEN_CA_PEM). */
  readonly caPem: string;
  /** Stamped as `tokenwarden.dev/injected`. */
  readonly version: string;
}

/** What injection needs from the TokenPolicy that selects the pod. */
export interface InjectionPolicy {
  readonly name: string;
  readonly targetPort: number;
  /** Extra sidecar env (the shared reuse store's Secrets, src/shared-store/pod-env.ts). */
  readonly env?: readonly V1EnvVar[];
}

/**
 * Every outcome, one closed union (metric label, log field, admission message prefix).
 * injected → mutated; opted_out / sidecar_already_exists → unchanged; the rest → refused.
 */
export type InjectionReason =
  | 'injected'
  | 'opted_out'
  | 'sidecar_already_exists'
  | 'port_collision'
  | 'host_network'
  | 'named_port_missing'
  | 'invalid_capture_mode';

export type InjectionOutcome = 'injected' | 'unchanged' | 'refused';

export interface InjectionReport {
  readonly outcome: InjectionOutcome;
  readonly reason: InjectionReason;
  readonly message: string;
  /** Set when injected. */
  readonly captureMode?: CaptureMode;
}

export interface InjectionResult {
  /** The pod to store: a deep copy when injected, the very input otherwise. */
  readonly pod: V1Pod;
  readonly report: InjectionReport;
}

const unchanged = (pod: V1Pod, reason: InjectionReason, message: string): InjectionResult => ({
  pod,
  report: { outcome: 'unchanged', reason, message },
});
const refused = (pod: V1Pod, reason: InjectionReason, message: string): InjectionResult => ({
  pod,
  report: { outcome: 'refused', reason, message },
});

function allContainers(pod: V1Pod): V1Container[] {
  return [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
}

export function injectSidecar(
  pod: V1Pod,
  policy: InjectionPolicy,
  settings: InjectionSettings,
): InjectionResult {
  const mode = captureModeFor(pod, settings);
  if (typeof mode !== 'string') return mode;
  return injected(pod, policy, settings, mode);
}

/**
 * The checks made before anything is built, in this order: a pod opted out or already injected
 * is left as it is; hostNetwork, a port of the sidecar's, or an unknown capture mode refuse it.
 * Otherwise the capture mode to inject with (the annotation's, else the operator's default).
 */
function captureModeFor(pod: V1Pod, settings: InjectionSettings): CaptureMode | InjectionResult {
  if (optedOut(pod)) return unchanged(pod, 'opted_out', `annotation ${ANNOTATION_INJECT}: "false"`);
  // Idempotent: a reinvocation (reinvocationPolicy: IfNeeded) or a re-submitted pod is left as is.
  if (hasSidecar(pod))
    return unchanged(pod, 'sidecar_already_exists', `container ${SIDECAR_NAME} is present`);

  // The capture rules would land in the node's network namespace, and the sidecar's ports on the
  // node's: never inject such a pod, and never let it start unprotected either.
  if (pod.spec?.hostNetwork === true) {
    return refused(
      pod,
      'host_network',
      `a pod with hostNetwork: true cannot get the tokenwarden sidecar; opt it out with ${ANNOTATION_INJECT}: "false" ` +
        'or leave it out of the policy selector',
    );
  }

  const collision = portCollision(pod);
  if (collision !== undefined) return refused(pod, 'port_collision', collision);

  const annotated = pod.metadata?.annotations?.[ANNOTATION_CAPTURE];
  const mode = annotated ?? settings.defaultCaptureMode;
  if (mode !== 'iptables' && mode !== 'none') {
    return refused(
      pod,
      'invalid_capture_mode',
      `annotation ${ANNOTATION_CAPTURE}: "${mode}" is not one of "iptables", "none"`,
    );
  }
  return mode;
}

/** The first container port of the pod that the sidecar needs: the refusal's message. */
function portCollision(pod: V1Pod): string | undefined {
  for (const c of allContainers(pod)) {
    for (const p of c.ports ?? []) {
      const role = RESERVED_PORTS.get(p.containerPort);
      if (role !== undefined) {
        return (
          `container "${c.name}" declares port ${p.containerPort}, which the tokenwarden sidecar uses ` +
          `(${role} port); move the app off ports ${PROXY_PORT} and ${ADMIN_PORT}, or opt the pod out ` +
          `with ${ANNOTATION_INJECT}: "false"`
        );
      }
    }
  }
  return undefined;
}

/**
 * A deep copy of `pod` with the sidecar (and in iptables mode the capture container) first among
 * its init containers, its app probes moved onto the sidecar, the volumes, and the injected
 * annotation. Capture `none` without a named app port is refused instead.
 */
function injected(
  pod: V1Pod,
  policy: InjectionPolicy,
  settings: InjectionSettings,
  mode: CaptureMode,
): InjectionResult {
  const out = structuredClone(pod);
  const spec = (out.spec ??= { containers: [] });
  const appProbes = rewriteAppProbes(spec.containers, policy.targetPort);
  let sidecarPorts: V1ContainerPort[] = [
    { name: 'tw-proxy', containerPort: PROXY_PORT, protocol: 'TCP' },
    { name: 'tw-admin', containerPort: ADMIN_PORT, protocol: 'TCP' },
  ];
  if (mode === 'none') {
    const taken = takeOverNamedPort(spec.containers, policy.targetPort);
    if (taken === undefined) {
      return refused(
        pod,
        'named_port_missing',
        `${ANNOTATION_CAPTURE}: "none" needs an app container port ${policy.targetPort} with a name ` +
          `(the Service must target the port by name); name the port or use the default capture mode`,
      );
    }
    sidecarPorts = [{ name: taken, containerPort: PROXY_PORT, protocol: 'TCP' }, sidecarPorts[1]!];
  }

  const injectedInit: V1Container[] = [];
  if (mode === 'iptables') injectedInit.push(captureContainer(policy, settings));
  injectedInit.push(withAppProbes(sidecarContainer(policy, settings, sidecarPorts), appProbes));
  spec.initContainers = [...injectedInit, ...(spec.initContainers ?? [])];
  spec.volumes = [...(spec.volumes ?? []), ...volumes(mode)];
  out.metadata ??= {};
  out.metadata.annotations = { ...out.metadata.annotations, [ANNOTATION_INJECTED]: settings.version };
  return {
    pod: out,
    report: {
      outcome: 'injected',
      reason: 'injected',
      message: `sidecar for policy ${policy.name} (port ${policy.targetPort}, capture ${mode})`,
      captureMode: mode,
    },
  };
}

/**
 * No-privilege mode: the app container port numbered `targetPort` loses its name to the sidecar
 * (renamed `tw-app-<port>`), so `targetPort: <name>` in a Service now resolves to 15080.
 * Returns the name taken over, or undefined when the port is absent or unnamed.
 */
function takeOverNamedPort(containers: V1Container[], targetPort: number): string | undefined {
  for (const c of containers) {
    const port = (c.ports ?? []).find((p) => p.containerPort === targetPort && p.name);
    if (port?.name !== undefined) {
      const name = port.name;
      port.name = `tw-app-${targetPort}`;
      return name;
    }
  }
  return undefined;
}
