/**
 * Wiring of a standalone sidecar: state, key store, engine, proxy and admin listeners. Returns
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
import { Upstream } from '../proxy/forward.js';
import { createProxyServer } from '../proxy/server.js';
import { ReuseCounter } from '../revocation/reuse.js';
import { VerifiedTokenCache } from '../token/cache.js';
import { TokenVerifier } from '../token/verify.js';
import { Engine } from '../decide/engine.js';
import { startPolicyFile } from './standalone.js';
import { ConfigState } from '../decide/state.js';

export interface RunningSidecar {
  proxyAddress: AddressInfo;
  adminAddress: AddressInfo;
  close(): Promise<void>;
}

export async function runSidecar(config: SidecarConfig, log: Logger): Promise<RunningSidecar> {
  const registry = new Registry();
  const metrics = createSidecarMetrics(registry);
  const keys = new KeyStore({
    onRefresh: (issuer, result, detail) => {
      metrics.jwksRefresh.inc({ issuer, result });
      if (result === 'failure') log.warn({ issuer, detail }, 'jwks refresh failed');
      else log.debug({ issuer, result }, 'jwks refreshed');
    },
  });
  const state = new ConfigState();
  const cache = new VerifiedTokenCache({ maxEntries: config.cacheSize });
  const reuse = new ReuseCounter();
  const engine = new Engine({ state, verifier: new TokenVerifier(keys), cache, reuse, keys });

  state.onApply((active) => {
    metrics.configGeneration.set(active.generation);
    metrics.configLastApplied.set(active.appliedAt / 1000);
    metrics.revocations.set(active.revocations.size);
    // The verified-token cache empties itself when the compiled spec or key set changes
    // (VerifiedTokenCache.sync, called by the engine on every request).
    keys.sync(active.policy.issuers.values()).catch((err: unknown) => {
      log.error({ err: (err as Error).message }, 'key sources could not be synced');
    });
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
    const active = state.active;
    if (active) metrics.configStaleness.set((Date.now() - active.appliedAt) / 1000);
  }, 5_000);
  sweeper.unref();

  const file = startPolicyFile({
    path: config.policyFile,
    state,
    metrics,
    log: log.child({ component: 'policy-file' }),
  });
  await file.start();

  const upstream = new Upstream({ url: config.upstream.origin });
  const proxy = createProxyServer({
    engine,
    upstream,
    metrics,
    log: log.child({ component: 'proxy' }),
    maxHeaderBytes: config.maxHeaderBytes,
  });
  const admin = createAdminServer(registry, () => {
    const active = state.active;
    const issuers = keys.status();
    const notReadyReason = !active
      ? 'no valid policy loaded'
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
        source: { kind: 'file', path: config.policyFile },
        policy: active?.policy.name ?? null,
        mode: active?.policy.mode ?? null,
        generation: active?.generation ?? 0,
        appliedAt: active ? new Date(active.appliedAt).toISOString() : null,
        stalenessSeconds: active ? (Date.now() - active.appliedAt) / 1000 : null,
        revocations: active?.revocations.size ?? 0,
        verifiedCacheEntries: cache.size,
        issuers,
      }),
    };
  });

  await listen(proxy, config.listen.host, config.listen.port);
  await listen(admin, config.adminListen.host, config.adminListen.port);
  const adminAddress = admin.address() as AddressInfo;
  log.info(
    { listen: proxy.address(), admin: adminAddress, upstream: config.upstream.origin },
    'sidecar started',
  );

  return {
    proxyAddress: proxy.address() as AddressInfo,
    adminAddress,
    async close() {
      file.stop();
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
    },
  };
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
