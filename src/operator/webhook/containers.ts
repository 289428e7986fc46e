/**
 * The containers and volumes injectSidecar (inject.ts) adds to a pod, built from the policy and
 * the injection settings (docs/contracts/in-cluster.md, "Injection"): the capture init container,
 * the native sidecar with its arguments, env and probes, the projected ServiceAccount token and
 * the snapshot emptyDir. Pure: every value is a fresh copy, nothing of the settings is shared.
 */
import type { V1Container, V1ContainerPort, V1Volume } from '@kubernetes/client-node';
import type { CaptureMode } from '../../config/injection.js';
import { ADMIN_PORT, CAPTURE_NAME, PROXY_PORT, SIDECAR_NAME, SIDECAR_UID } from '../../core/injection.js';
import type { InjectionPolicy, InjectionSettings } from './inject.js';

export const TOKEN_AUDIENCE = 'tokenwarden';
export const TOKEN_DIR = '/var/run/secrets/tokenwarden';
export const TOKEN_FILE = `${TOKEN_DIR}/token`;
export const STATE_DIR = '/var/lib/tokenwarden';

const TOKEN_VOLUME = 'tokenwarden-token';
const STATE_VOLUME = 'tokenwarden-state';
const RUN_VOLUME = 'tokenwarden-xtables';

const hardened = {
  allowPrivilegeEscalation: false,
  privileged: false,
  readOnlyRootFilesystem: true,
  seccompProfile: { type: 'RuntimeDefault' },
};

export function sidecarArgs(policy: InjectionPolicy, settings: InjectionSettings): string[] {
  return [
    'sidecar',
    '--control-plane',
    settings.controlPlaneUrl,
    '--upstream',
    `http://127.0.0.1:${policy.targetPort}`,
    '--state-dir',
    STATE_DIR,
    '--token-file',
    TOKEN_FILE,
    '--log-level',
    settings.logLevel,
    // Both families: capture redirects IPv6 clients too; the sidecar falls back to 0.0.0.0 where
    // the pod has no IPv6 (EAFNOSUPPORT).
    '--listen',
    `[::]:${PROXY_PORT}`,
    '--admin-listen',
    `[::]:${ADMIN_PORT}`,
  ];
}

export function captureArgs(
  policy: InjectionPolicy,
  settings: Pick<InjectionSettings, 'captureIpv6'>,
): string[] {
  return [
    'capture',
    '--target-port',
    String(policy.targetPort),
    '--proxy-port',
    String(PROXY_PORT),
    '--proxy-uid',
    String(SIDECAR_UID),
    // `on` is the binary's `auto` (fatal when IPv6 is present and cannot be covered); `off` only
    // when the platform turned IPv6 capture off in the chart.
    ...(settings.captureIpv6 === 'off' ? ['--ipv6', 'off'] : []),
  ];
}

/** The native sidecar: hardened, non-root, probed on the admin port, `ports` as the pod needs them. */
export function sidecarContainer(
  policy: InjectionPolicy,
  settings: InjectionSettings,
  ports: V1ContainerPort[],
): V1Container {
  const probe = (path: string, periodSeconds: number, failureThreshold: number) => ({
    httpGet: { path, port: ADMIN_PORT },
    periodSeconds,
    timeoutSeconds: 2,
    failureThreshold,
  });
  return {
    name: SIDECAR_NAME,
    image: settings.image,
    imagePullPolicy: settings.imagePullPolicy,
    // A native sidecar (Kubernetes 1.29+): started before the app, stopped after it.
    restartPolicy: 'Always',
    args: sidecarArgs(policy, settings),
    env: [
      { name: 'TOKENWARDEN_CA_PEM', value: settings.caPem },
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      // --memory-budget: the container's own memory limit, in bytes (src/config/memory.ts).
      ...(settings.sidecarResources.limits?.memory === undefined
        ? []
        : [
            {
              name: 'TOKENWARDEN_MEMORY_BUDGET',
              valueFrom: {
                resourceFieldRef: { containerName: SIDECAR_NAME, resource: 'limits.memory', divisor: '1' },
              },
            },
          ]),
      ...structuredClone(policy.env ?? []),
    ],
    ports,
    // The app starts once the sidecar's startup probe passes (native sidecar ordering).
    startupProbe: probe('/healthz', 1, 60),
    readinessProbe: probe('/readyz', 5, 2),
    livenessProbe: probe('/healthz', 10, 3),
    resources: structuredClone(settings.sidecarResources),
    securityContext: {
      ...structuredClone(hardened),
      runAsNonRoot: true,
      runAsUser: SIDECAR_UID,
      runAsGroup: SIDECAR_UID,
      capabilities: { drop: ['ALL'] },
    },
    volumeMounts: [
      { name: TOKEN_VOLUME, mountPath: TOKEN_DIR, readOnly: true },
      { name: STATE_VOLUME, mountPath: STATE_DIR },
    ],
  };
}

/** The capture init container (iptables mode): root with NET_ADMIN and NET_RAW only. */
export function captureContainer(policy: InjectionPolicy, settings: InjectionSettings): V1Container {
  return {
    name: CAPTURE_NAME,
    image: settings.image,
    imagePullPolicy: settings.imagePullPolicy,
    args: captureArgs(policy, settings),
    resources: structuredClone(settings.captureResources),
    securityContext: {
      ...structuredClone(hardened),
      // iptables needs root in the pod's network namespace with exactly these two capabilities;
      // the only container of the pod that is not non-root.
      runAsNonRoot: false,
      runAsUser: 0,
      runAsGroup: 0,
      capabilities: { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] },
    },
    // iptables takes its lock in /run/xtables.lock; the root filesystem stays read-only.
    volumeMounts: [{ name: RUN_VOLUME, mountPath: '/run' }],
  };
}

/** The projected token, the snapshot emptyDir, and in iptables mode the xtables lock's /run. */
export function volumes(mode: CaptureMode): V1Volume[] {
  const list: V1Volume[] = [
    {
      name: TOKEN_VOLUME,
      projected: {
        sources: [
          { serviceAccountToken: { audience: TOKEN_AUDIENCE, expirationSeconds: 3600, path: 'token' } },
        ],
      },
    },
    { name: STATE_VOLUME, emptyDir: { sizeLimit: '16Mi' } },
  ];
  if (mode === 'iptables') list.push({ name: RUN_VOLUME, emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } });
  return list;
}
