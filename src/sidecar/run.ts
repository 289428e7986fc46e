/**
 * Wiring of a sidecar (standalone from a policy file, or in-cluster from the operator's stream):
 * the components (components.ts) and a list of parts started in order and stopped in reverse
 * (core/parts.ts). Returns a handle whose `close()` drains in-flight requests before the process
 * exits. A new part is one entry in `sidecarParts`, built by its own function.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SidecarConfig } from '../config/sidecar.js';
import { startParts, type Part } from '../core/parts.js';
import type { Logger } from '../log/logger.js';
import { createAdminServer } from '../proxy/admin.js';
import { serveAppProbes } from './probes.js';
import { Upstream } from '../proxy/forward.js';
import { createProxyServer } from '../proxy/server.js';
import { buildComponents, type SidecarComponents } from './components.js';
import { ControlPlaneSource } from './control-plane/source.js';
import { acceptErrorLogger, closeNow, drain, listen, type AcceptErrors } from './listen.js';
import { sidecarStatus } from './readiness.js';
import { startPolicyFile } from './standalone.js';

export interface RunningSidecar {
  proxyAddress: AddressInfo;
  adminAddress: AddressInfo;
  close(): Promise<void>;
}

/** How long in-flight requests get to finish on close before their connections are cut. */
const DRAIN_GRACE_MS = 10_000;
const SWEEP_INTERVAL_MS = 5_000;

export async function runSidecar(config: SidecarConfig, log: Logger): Promise<RunningSidecar> {
  const c = buildComponents(config, log);
  const upstream = new Upstream({
    url: config.upstream.origin,
    queueTimeoutMs: config.upstreamQueueTimeoutMs,
    writeStallTimeoutMs: config.responseStallTimeoutMs,
  });
  const proxy = proxyServer(config, c, upstream, log);
  let proxyListening = false;
  const admin = createAdminServer(
    c.registry,
    sidecarStatus(config, c, () => proxyListening),
  );
  serveAppProbes(admin, process.env);
  const onAcceptError = acceptErrorLogger(log);
  const parts: Part[] = [
    { name: 'reuse-store', stop: () => c.reuse.close() },
    { name: 'upstream', stop: () => upstream.close() },
    listenerPart('admin', admin, config.adminListen, onAcceptError, () => closeNow(admin)),
    { name: 'keys', stop: () => c.keys.close() },
    applyPart(config, c, log),
    sweeperPart(c, log),
    sourcePart(config, c, log),
    listenerPart('proxy', proxy, config.listen, onAcceptError, () => drain(proxy, DRAIN_GRACE_MS)),
    // Readiness waits for the proxy to listen, and stays as it is while the proxy drains.
    { name: 'ready', start: () => void (proxyListening = true) },
  ];
  const running = await startParts(parts, {
    onStopFailure: ({ part, error }) => log.error({ part, err: (error as Error).message }, 'stop failed'),
  });
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
  return { proxyAddress: proxy.address() as AddressInfo, adminAddress, close: () => running.stop() };
}

function proxyServer(config: SidecarConfig, c: SidecarComponents, upstream: Upstream, log: Logger): Server {
  return createProxyServer({
    engine: c.engine,
    upstream,
    metrics: c.metrics,
    log: log.child({ component: 'proxy' }),
    maxHeaderBytes: config.maxHeaderBytes,
    maxHeaders: config.maxHeaders,
    headersTimeoutMs: config.headersTimeoutMs,
    body: {
      bufferBytes: config.bodyBufferBytes,
      idleTimeoutMs: config.bodyIdleTimeoutMs,
      minBytesPerSecond: config.bodyMinBytesPerSecond,
      graceMs: config.bodyRateWindowMs,
    },
    maxConnectionsPerClient: config.maxConnectionsPerClient,
    maxConnections: config.maxConnections,
  });
}

function listenerPart(
  name: string,
  server: Server,
  at: { host: string; port: number },
  onAcceptError: AcceptErrors,
  stop: () => Promise<void>,
): Part {
  return { name, start: () => listen(server, at.host, at.port, onAcceptError), stop };
}

/** Every applied config: its metrics, and (standalone) the key sources it names. */
function applyPart(config: SidecarConfig, c: SidecarComponents, log: Logger): Part {
  return {
    name: 'apply',
    start: () =>
      c.state.onApply((active) => {
        c.reuse.configure(active.policy);
        c.metrics.configGeneration.set(active.generation);
        c.metrics.configLastApplied.set(active.appliedAt / 1000);
        c.metrics.revocations.set(active.revocations.size);
        // The verified-token cache empties itself when the compiled spec or key set changes
        // (VerifiedTokenCache.sync, called by the engine on every request).
        if (config.source.kind === 'file') {
          c.keys.sync(active.policy.issuers.values()).catch((err: unknown) => {
            log.error({ err: (err as Error).message }, 'key sources could not be synced');
          });
        }
      }),
  };
}

/** Expired reuse counts and revocations dropped, the cache gauge refreshed. */
function sweeperPart(c: SidecarComponents, log: Logger): Part {
  let sweeper: NodeJS.Timeout | undefined;
  const sweep = (): void => {
    c.reuse.sweep(Date.now() / 1000);
    const expired = c.state.expireRevocations(Date.now());
    if (expired)
      log.info(
        { generation: expired.generation, revocations: expired.revocations.size },
        'expired revocations dropped',
      );
    c.metrics.verifiedCacheSize.set(c.cache.size);
    if (c.reuse.stats().entries === 0) c.reuseEmptied();
  };
  return {
    name: 'sweeper',
    start: () => {
      sweeper = setInterval(sweep, SWEEP_INTERVAL_MS);
      sweeper.unref();
    },
    stop: () => clearInterval(sweeper),
  };
}

/** Where the config comes from: a policy file, or the operator's stream. */
function sourcePart(config: SidecarConfig, c: SidecarComponents, log: Logger): Part {
  const source = config.source;
  if (source.kind === 'file') {
    const file = startPolicyFile({
      path: source.path,
      state: c.state,
      metrics: c.metrics,
      log: log.child({ component: 'policy-file' }),
    });
    return { name: 'policy-file', start: () => file.start(), stop: () => file.stop() };
  }
  const cp = new ControlPlaneSource({
    config: source.controlPlane,
    state: c.state,
    keys: c.keys,
    metrics: c.metrics,
    log: log.child({ component: 'control-plane' }),
  });
  c.controlPlane = cp;
  return { name: 'control-plane', start: () => cp.start(), stop: () => cp.stop() };
}
