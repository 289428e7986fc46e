/**
 * What the admin listener answers on /readyz and /status. In-cluster, keys arrive with the
 * config: ready once any config is enforced, connected or not (an operator outage must not pull
 * every pod out of its Service). Standalone, ready once a policy is loaded and every issuer's keys
 * were fetched. Never ready before the proxy listens.
 */
import type { SidecarConfig } from '../config/sidecar.js';
import type { AdminStatus } from '../proxy/admin.js';
import type { SidecarComponents } from './components.js';

function notReadyReason(c: SidecarComponents, proxyListening: boolean): string | undefined {
  const { state, keys, controlPlane } = c;
  if (!state.active)
    return controlPlane
      ? 'no config from the control plane yet (and no usable snapshot)'
      : 'no valid policy loaded';
  if (!proxyListening) return 'proxy not listening yet';
  if (controlPlane || keys.ready) return undefined;
  const pending = keys
    .status()
    .filter((i) => !i.ready)
    .map((i) => i.issuer);
  return `keys not fetched yet for ${pending.join(', ')}`;
}

export function sidecarStatus(
  config: SidecarConfig,
  c: SidecarComponents,
  proxyListening: () => boolean,
): () => AdminStatus {
  const source = config.source;
  return () => {
    const reason = notReadyReason(c, proxyListening());
    const active = c.state.active;
    return {
      ready: reason === undefined,
      notReadyReason: reason,
      snapshot: () => ({
        source:
          c.controlPlane?.status() ??
          (source.kind === 'file' ? { kind: 'file', path: source.path } : { kind: source.kind }),
        pod:
          source.kind === 'control-plane'
            ? {
                name: source.controlPlane.podName ?? null,
                namespace: source.controlPlane.podNamespace ?? null,
              }
            : undefined,
        policy: active?.policy.name ?? null,
        mode: active?.policy.mode ?? null,
        generation: active?.generation ?? 0,
        appliedAt: active ? new Date(active.appliedAt).toISOString() : null,
        stalenessSeconds: c.staleness() ?? null,
        revocations: active?.revocations.size ?? 0,
        verifiedCacheEntries: c.cache.size,
        reuseStore: c.reuse.stats(),
        issuers: c.keys.status(),
      }),
    };
  };
}
