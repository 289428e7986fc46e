/**
 * The sidecar's long-lived objects, built before any part starts: the enforced-config state, the
 * metrics, the key store, the verified-token cache, the reuse store and the decision engine. The
 * parts in run.ts start and stop them; nothing here listens or fetches.
 */
import { Registry } from 'prom-client';
import type { SidecarConfig } from '../config/sidecar.js';
import { Engine } from '../decide/engine.js';
import type { UnavailableAction } from '../decide/reuse-step.js';
import { EnforcementState } from '../decide/state.js';
import { KeyStore } from '../keys/store.js';
import type { Logger } from '../log/logger.js';
import { createSidecarMetrics, type SidecarMetrics } from '../metrics/sidecar.js';
import { MemoryReuseStore } from '../revocation/reuse.js';
import type { ReuseStore } from '../revocation/reuse-store.js';
import { SharedReuseSwitch } from '../shared-store/switch.js';
import { VerifiedTokenCache } from '../token/cache.js';
import { TokenVerifier } from '../token/verify.js';
import type { ControlPlaneSource } from './control-plane/source.js';

export interface SidecarComponents {
  readonly registry: Registry;
  readonly state: EnforcementState;
  readonly metrics: SidecarMetrics;
  readonly keys: KeyStore;
  readonly cache: VerifiedTokenCache;
  readonly reuse: SharedReuseSwitch;
  readonly engine: Engine;
  /** Set by the control-plane part when it is built (in-cluster only). */
  controlPlane: ControlPlaneSource | undefined;
  /** Seconds since the enforced config was last confirmed, or undefined before any. */
  staleness(): number | undefined;
  /** Forget the last "store full" log time once the store has emptied (the sweeper calls it). */
  reuseEmptied(): void;
}

export function buildComponents(config: SidecarConfig, log: Logger): SidecarComponents {
  const registry = new Registry();
  const state = new EnforcementState();
  const c = { controlPlane: undefined } as { controlPlane: ControlPlaneSource | undefined };
  const staleness = (): number | undefined => {
    if (c.controlPlane) return c.controlPlane.staleness();
    const active = state.active;
    return active ? (Date.now() - active.appliedAt) / 1000 : undefined;
  };
  const metrics = createSidecarMetrics(registry, { staleness });
  const keys = new KeyStore({
    onRefresh: (issuer, result, detail) => {
      metrics.jwksRefresh.inc({ issuer, result });
      if (result === 'failure') log.warn({ issuer, detail }, 'jwks refresh failed');
      else log.debug({ issuer, result }, 'jwks refreshed');
    },
    // In-cluster the operator pushes keys (KeyStore.install) and refetches on request.
    onUnknownKid:
      config.source.kind === 'control-plane'
        ? (issuer, kid) => c.controlPlane?.requestKeyRefresh(issuer, kid)
        : undefined,
  });
  const cache = new VerifiedTokenCache({
    maxEntries: config.cacheSize,
    maxBytes: config.tokenCacheBytes,
    admitOnSecondSighting: true,
  });
  // Per pod by default; a policy that names a shared store switches to it (ioredis is loaded
  // only then), with the per-pod store as the fallback the policy may choose.
  const perPod = new MemoryReuseStore({ maxBytes: config.reuseStoreBytes });
  const reuse = new SharedReuseSwitch({
    local: perPod,
    env: process.env,
    log: log.child({ component: 'reuse-store' }),
  });
  metrics.setStoreSource(() => {
    const r = reuse.stats();
    return {
      cacheEntries: cache.size,
      cacheBytes: cache.bytes,
      cacheCapacityBytes: config.tokenCacheBytes,
      reuseEntries: r.entries,
      reuseBytes: r.bytes,
      reuseCapacityBytes: r.capacityBytes,
      reuseRefusedFull: r.refusedFull,
      cacheHits: cache.hits,
      cacheMisses: cache.misses,
    };
  });
  const reuseLogs = reuseLoggers(reuse, metrics, log);
  const engine = new Engine({
    state,
    verifier: new TokenVerifier(keys),
    cache,
    reuse,
    reuseFallback: perPod,
    keys,
    onReuseStoreFull: reuseLogs.full,
    onReuseStoreUnavailable: reuseLogs.unavailable,
  });
  return Object.assign(c, {
    registry,
    state,
    metrics,
    keys,
    cache,
    reuse,
    engine,
    staleness,
    reuseEmptied: reuseLogs.emptied,
  });
}

/** Fail closed, loudly: one line per 10 s at most for each of "store full" and "unavailable". */
function reuseLoggers(reuse: ReuseStore, metrics: SidecarMetrics, log: Logger) {
  let lastFullLog = 0;
  let lastUnavailableLog = 0;
  return {
    full: (): void => {
      const now = Date.now();
      if (now - lastFullLog < 10_000) return;
      lastFullLog = now;
      const { entries, bytes, capacityBytes, refusedFull: refused } = reuse.stats();
      log.warn({ entries, bytes, capacityBytes, refused }, 'reuse store full: refusing reuse-limited tokens');
    },
    // Fail closed unless the policy chose per-pod counting.
    unavailable: (detail: string, action: UnavailableAction): void => {
      metrics.reuseStoreUnavailable.inc({ action });
      const now = Date.now();
      if (now - lastUnavailableLog < 10_000) return;
      lastUnavailableLog = now;
      log.warn({ detail, action }, 'reuse store unavailable');
    },
    emptied: (): void => {
      lastFullLog = 0;
    },
  };
}
