/**
 * App containers that could undo what injection did, pure. Checked by the webhook (refused, or
 * let through with a warning in a permissive namespace) and by the policy status (counted as
 * `unsafe_app_container`), over every container but the injected ones, ephemeral ones included:
 * - capabilities that can rewrite or sidestep the capture rules or reach into the sidecar
 *   (NET_ADMIN, NET_RAW, SYS_ADMIN, SYS_PTRACE, SYS_MODULE, BPF, ALL), or `privileged`;
 * - running as the sidecar's UID 15080 (the capture rules exempt it; it owns the sidecar's files);
 * - a shared process namespace (`shareProcessNamespace`, `hostPID`): another process can reach
 *   the sidecar's files through /proc/<pid>/root;
 * - mounting the sidecar's token, state or iptables-lock volume.
 * A container whose image runs as 15080 without saying so in the spec cannot be seen here.
 */
import { CAPTURE_NAME, SIDECAR_NAME, SIDECAR_UID } from './injection.js';

export const INJECTED_VOLUMES: readonly string[] = [
  'tokenwarden-token',
  'tokenwarden-state',
  'tokenwarden-xtables',
];
const DANGEROUS_CAPS: ReadonlySet<string> = new Set([
  'NET_ADMIN',
  'NET_RAW',
  'SYS_ADMIN',
  'SYS_PTRACE',
  'SYS_MODULE',
  'BPF',
  'ALL',
]);

interface ContainerShape {
  name: string;
  securityContext?: {
    runAsUser?: number;
    privileged?: boolean;
    capabilities?: { add?: string[] };
  };
  volumeMounts?: { name: string }[];
}

export interface UnsafePodShape {
  spec?: {
    shareProcessNamespace?: boolean;
    hostPID?: boolean;
    securityContext?: { runAsUser?: number };
    initContainers?: ContainerShape[];
    containers?: ContainerShape[];
    ephemeralContainers?: ContainerShape[];
  };
}

export interface UnsafeFinding {
  /** The container, or `pod` for a pod-level setting. */
  readonly container: string;
  readonly why: string;
}

const INJECTED: ReadonlySet<string> = new Set([SIDECAR_NAME, CAPTURE_NAME]);

function containerFindings(c: ContainerShape, podUid: number | undefined): UnsafeFinding[] {
  const out: UnsafeFinding[] = [];
  const sc = c.securityContext;
  for (const cap of sc?.capabilities?.add ?? []) {
    const norm = cap.toUpperCase().replace(/^CAP_/, '');
    if (DANGEROUS_CAPS.has(norm)) out.push({ container: c.name, why: `adds capability ${norm}` });
  }
  if (sc?.privileged === true) out.push({ container: c.name, why: 'is privileged' });
  if ((sc?.runAsUser ?? podUid) === SIDECAR_UID) {
    out.push({ container: c.name, why: `runs as the sidecar's UID ${SIDECAR_UID}` });
  }
  for (const m of c.volumeMounts ?? []) {
    if (INJECTED_VOLUMES.includes(m.name)) out.push({ container: c.name, why: `mounts volume ${m.name}` });
  }
  return out;
}

export function unsafeAppContainers(pod: UnsafePodShape): UnsafeFinding[] {
  const spec = pod.spec;
  const out: UnsafeFinding[] = [];
  if (spec?.shareProcessNamespace === true) out.push({ container: 'pod', why: 'sets shareProcessNamespace' });
  if (spec?.hostPID === true) out.push({ container: 'pod', why: 'sets hostPID' });
  const podUid = spec?.securityContext?.runAsUser;
  const all = [
    ...(spec?.initContainers ?? []),
    ...(spec?.containers ?? []),
    ...(spec?.ephemeralContainers ?? []),
  ];
  for (const c of all) if (!INJECTED.has(c.name)) out.push(...containerFindings(c, podUid));
  return out;
}

/** `container "app" adds capability NET_ADMIN; pod sets shareProcessNamespace` */
export function describeFindings(findings: readonly UnsafeFinding[]): string {
  return findings
    .map((f) => (f.container === 'pod' ? `pod ${f.why}` : `container "${f.container}" ${f.why}`))
    .join('; ');
}
