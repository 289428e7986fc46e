/**
 * Probes that work without rules (the Istio injector's model): every HTTP probe of an app
 * container aimed at the policy's target port, the port the capture rules send to the sidecar,
 * is moved onto the sidecar's admin port at `/app-health/<container>/<kind>`; the original probe
 * (path, port, scheme, headers, timeout) goes to the sidecar in TOKENWARDEN_APP_PROBES, and the
 * sidecar runs exactly that probe against the app (src/sidecar/probes.ts). Without this, the
 * kubelet's probes reach the proxy, carry no token, and are refused: the rollout never gets ready.
 *
 * Left alone: TCP, gRPC and exec probes (the capture rules redirect TCP connects to the sidecar,
 * which accepts them; gRPC probes target their own port), HTTP probes on any other port, and
 * HTTP probes with a `host` (they dial another address, not through this pod's capture).
 */
import type { V1Container, V1EnvVar, V1Probe } from '@kubernetes/client-node';
import { APP_PROBES_ENV, type AppProbe, type ProbeKind, appProbePath } from '../../core/app-probes.js';
import { ADMIN_PORT } from '../../core/injection.js';

const FIELDS: readonly (readonly [keyof V1Container & `${string}Probe`, ProbeKind])[] = [
  ['livenessProbe', 'livez'],
  ['readinessProbe', 'readyz'],
  ['startupProbe', 'startupz'],
];

/** The probe's port as a number: a number, a numeric string, or the name of a container port. */
function resolvePort(container: V1Container, port: number | string): number | undefined {
  if (typeof port === 'number') return port;
  if (/^\d+$/.test(port)) return Number(port);
  return container.ports?.find((p) => p.name === port)?.containerPort;
}

function original(container: V1Container, probe: V1Probe, targetPort: number): AppProbe | undefined {
  const get = probe.httpGet;
  if (get === undefined || (get.host !== undefined && get.host !== '')) return undefined;
  if (resolvePort(container, get.port) !== targetPort) return undefined;
  return {
    path: get.path === undefined || get.path === '' ? '/' : get.path,
    port: targetPort,
    scheme: get.scheme === 'HTTPS' ? 'HTTPS' : 'HTTP',
    headers: (get.httpHeaders ?? []).map((h) => ({ name: h.name, value: h.value })),
    timeoutSeconds: probe.timeoutSeconds ?? 1,
  };
}

/**
 * Rewrites, in place, the HTTP probes of `containers` that target `targetPort` (call before any
 * port is renamed) and returns the sidecar's environment entry, or [] when nothing was moved.
 */
export function rewriteAppProbes(containers: V1Container[], targetPort: number): V1EnvVar[] {
  const moved: Record<string, AppProbe> = {};
  for (const c of containers) {
    for (const [field, kind] of FIELDS) {
      const probe = c[field];
      if (probe === undefined) continue;
      const app = original(c, probe, targetPort);
      if (app === undefined) continue;
      moved[`${c.name}/${kind}`] = app;
      probe.httpGet = { path: appProbePath(c.name, kind), port: ADMIN_PORT, scheme: 'HTTP' };
    }
  }
  return Object.keys(moved).length === 0 ? [] : [{ name: APP_PROBES_ENV, value: JSON.stringify(moved) }];
}

/** The sidecar container with the moved probes in its environment. */
export function withAppProbes(sidecar: V1Container, env: V1EnvVar[]): V1Container {
  if (env.length > 0) sidecar.env = [...(sidecar.env ?? []), ...env];
  return sidecar;
}
