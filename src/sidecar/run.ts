/**
 * Wiring of a sidecar (standalone from a policy file, or in-cluster from the operator's stream): state, key store, engine, proxy and admin listeners. Returns
 * a handle whose `close()` drains in-flight requests before the process exits.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import type { SidecarConfig } from '../config/sidecar.js';
import { KeyStore } from '../keys/store.js';
import type { Logger } from '../log/logger.js';
import { createSidecarMetrics } from '../metrics/sidecar.js';
import { createAdminServer } from '../proxy/admin.js';
import { serveAppProbes } from './probes.js';
import { Upstream } from '../proxy/forward.js';
import { createProxyServer } from '../proxy/server.js';
import { MemoryReuseStore } from '../revocation/reuse.js';
import { SharedReuseSwitch } from '../shared-store/switch.js';
import { VerifiedTokenCache } from '../token/cache.js';
import { TokenVerifier } from '../token/verify.js';
import { Engine } from '../decide/engine.js';
import type { UnavailableAction } from '../decide/reuse-step.js';
import { ControlPlaneSource } from './control-plane/source.js';
import { startPolicyFile } from './standalone.js';
import { ConfigState } from '../decide/state.js';

export interface RunningSidecar {
  proxyAddress: AddressInfo;
  adminAddress: AddressInfo;
  close(): Promise<void>;
}

export async function runSidecar(config: SidecarConfig, log: Logger): Promise<RunningSidecar> {
  const registry = new Registry();
  const source = config.source;
  // Late-bound: the control-plane source needs the metrics, the metrics read its staleness.
  let controlPlane: ControlPlaneSource | undefined;
  const state = new ConfigState();
  const fileStaleness = (): number | undefined => {
    const active = state.active;
    return active ? (Date.now() - active.appliedAt) / 1000 : undefined;
  };
  const staleness = (): number | undefined => (controlPlane ? controlPlane.staleness() : fileStaleness());
  const metrics = createSidecarMetrics(registry, { staleness });
  const keys = new KeyStore({
    onRefresh: (issuer, result, detail) => {
      metrics.jwksRefresh.inc({ issuer, result });
      if (result === 'failure') log.warn({ issuer, detail }, 'jwks refresh failed');
      else log.debug({ issuer, result }, 'jwks refreshed');
    },
    // In-cluster the operator pushes keys (KeyStore.install) and refetches on request.
    onUnknownKid:
      source.kind === 'control-plane'
        ? (issuer, kid) => controlPlane?.requestKeyRefresh(issuer, kid)
        : undefined,
  });
  const cache = new VerifiedTokenCache({
    maxEntries: config.cacheSize,
    maxBytes: config.tokenCacheBytes,
    admitOnSecondSighting: true,
  });
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
  // Fail closed, loudly: one line per 10 s at most while the store stays full.
  let lastFullLog = 0;
  const onReuseStoreFull = (): void => {
    const now = Date.now();
    if (now - lastFullLog < 10_000) return;
    lastFullLog = now;
    const { entries, bytes, capacityBytes, refusedFull: refused } = reuse.stats();
    log.warn({ entries, bytes, capacityBytes, refused }, 'reuse store full: refusing reuse-limited tokens');
  };
  // Fail closed unless the policy chose per-pod counting; one line per 10 s at most.
  let lastUnavailableLog = 0;
  const onReuseStoreUnavailable = (detail: string, action: UnavailableAction): void => {
    metrics.reuseStoreUnavailable.inc({ action });
    const now = Date.now();
    if (now - lastUnavailableLog < 10_000) return;
    lastUnavailableLog = now;
    log.warn({ detail, action }, 'reuse store unavailable');
  };
  const engine = new Engine({
    state,
    verifier: new TokenVerifier(keys),
    cache,
    reuse,
    reuseFallback: perPod,
    keys,
    onReuseStoreFull,
    onReuseStoreUnavailable,
  });

  state.onApply((active) => {
    reuse.configure(active.policy);
    metrics.configGeneration.set(active.generation);
    metrics.configLastApplied.set(active.appliedAt / 1000);
    metrics.revocations.set(active.revocations.size);
    // The verified-token cache empties itself when the compiled spec or key set changes
    // (VerifiedTokenCache.sync, called by the engine on every request).
    if (source.kind === 'file') {
      keys.sync(active.policy.issuers.values()).catch((err: unknown) => {
        log.error({ err: (err as Error).message }, 'key sources could not be synced');
      });
    }
  });

  const sweeper = setInterval(() => {
    reuse.sweep(Date.now() / 1000);
    const expired = state.expireRevocations(Date.now());
    if (expired)
      log.info(
        { generation: expired.generation, revocations: expired.revocations.size },
        'expired revocations dropped',
      );
    metrics.verifiedCacheSize.set(cache.size);
    if (reuse.stats().entries === 0) lastFullLog = 0;
  }, 5_000);
  sweeper.unref();

  let stopSource: () => Promise<void>;
  if (source.kind === 'file') {
    const file = startPolicyFile({
      path: source.path,
      state,
      metrics,
      log: log.child({ component: 'policy-file' }),
    });
    await file.start();
    stopSource = () => Promise.resolve(file.stop());
  } else {
    const cp = new ControlPlaneSource({
      config: source.controlPlane,
      state,
      keys,
      metrics,
      log: log.child({ component: 'control-plane' }),
    });
    controlPlane = cp;
    await cp.start();
    stopSource = () => cp.stop();
  }

  const upstream = new Upstream({
    url: config.upstream.origin,
    queueTimeoutMs: config.upstreamQueueTimeoutMs,
  });
  const proxy = createProxyServer({
    engine,
    upstream,
    metrics,
    log: log.child({ component: 'proxy' }),
    maxHeaderBytes: config.maxHeaderBytes,
    maxHeaders: config.maxHeaders,
    headersTimeoutMs: config.headersTimeoutMs,
    body: {
      bufferBytes: config.bodyBufferBytes,
      idleTimeoutMs: config.bodyIdleTimeoutMs,
      minBytesPerSecond: config.bodyMinBytesPerSecond,
    },
    maxConnectionsPerClient: config.maxConnectionsPerClient,
  });
  const admin = createAdminServer(registry, () => {
    const active = state.active;
    const issuers = keys.status();
    // In-cluster, keys arrive with the config: ready once any config is enforced, connected or
    // not (an operator outage must not pull every pod out of its Service).
    const notReadyReason = !active
      ? controlPlane
        ? 'no config from the control plane yet (and no usable snapshot)'
        : 'no valid policy loaded'
      : controlPlane
        ? undefined
        : !keys.ready
          ? `keys not fetched yet for ${issuers
              .filter((i) => !i.ready)
              .map((i) => i.issuer)
              .join(', ')}`
          : undefined;
    return {
      ready: notReadyReason === undefined,
      notReadyReason,
      snapshot: () => ({
        source:
          controlPlane?.status() ??
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
        stalenessSeconds: staleness() ?? null,
        revocations: active?.revocations.size ?? 0,
        verifiedCacheEntries: cache.size,
        reuseStore: reuse.stats(),
        issuers,
      }),
    };
  });
  serveAppProbes(admin, process.env);

  const onAcceptError = acceptErrorLogger(log);
  await listen(proxy, config.listen.host, config.listen.port, onAcceptError);
  await listen(admin, config.adminListen.host, config.adminListen.port, onAcceptError);
  const adminAddress = admin.address() as AddressInfo;
  log.info(
    {
      listen: proxy.address(),
      admin: adminAddress,
      upstream: config.upstream.origin,
      memory: {
        budgetBytes: config.memory.budgetBytes,
        tokenCacheBytes: config.tokenCacheBytes,
        reuseStoreBytes: config.reuseStoreBytes,
        semiSpaceMiB: config.memory.semiSpaceMiB,
      },
    },
    'sidecar started',
  );

  return {
    proxyAddress: proxy.address() as AddressInfo,
    adminAddress,
    async close() {
      await stopSource();
      clearInterval(sweeper);
      keys.close();
      // Stop accepting, let in-flight requests finish (their responses say `connection: close`),
      // closing each keep-alive socket as soon as it goes idle; cut what is left after 10 s.
      const closed = new Promise<void>((resolve) => proxy.close(() => resolve()));
      const idle = setInterval(() => proxy.closeIdleConnections(), 50);
      const timer = setTimeout(() => proxy.closeAllConnections(), 10_000);
      proxy.closeIdleConnections();
      await closed;
      clearInterval(idle);
      clearTimeout(timer);
      admin.closeAllConnections();
      await new Promise<void>((resolve) => admin.close(() => resolve()));
      await upstream.close();
      await reuse.close();
    },
  };
}

/**
 * `::` is dual-stack (libuv clears IPV6_V6ONLY), the injected default. On a kernel booted without
 * IPv6 the socket cannot exist (EAFNOSUPPORT): there is no IPv6 traffic to serve there, so the
 * IPv4 wildcard serves every client the capture rules can redirect.
 */
async function listen(server: Server, host: string, port: number, onError: AcceptErrors): Promise<void> {
  try {
    await listenOnce(server, host, port, onError);
  } catch (err) {
    if (host !== '::' || (err as NodeJS.ErrnoException).code !== 'EAFNOSUPPORT') throw err;
    await listenOnce(server, '0.0.0.0', port, onError);
  }
}

type AcceptErrors = (err: NodeJS.ErrnoException) => void;

function listenOnce(server: Server, host: string, port: number, onAcceptError: AcceptErrors): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      // After listen, a server's 'error' is a failed accept (EMFILE, ENFILE): the listener stays
      // open and serves the connections it can, so the error is counted in the log, never fatal.
      server.on('error', onAcceptError);
      resolve();
    });
  });
}

/** At most one log line per 10 s: a descriptor shortage fails every accept until it passes. */
function acceptErrorLogger(log: Logger): AcceptErrors {
  let last = 0;
  return (err) => {
    const now = Date.now();
    if (now - last < 10_000) return;
    last = now;
    log.error({ code: err.code, err: err.message }, 'accept failed; still serving');
  };
}
