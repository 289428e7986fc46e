/**
 * The operator's HTTPS part: the managed serving certificate, and on it the config stream, the
 * injection webhook (when the chart gives its settings), the identity-provider receivers and any
 * plugin the caller adds. A failed start undoes its own half-done work before it rethrows.
 */
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { AddressInfo } from 'node:net';
import type { OperatorConfig } from '../config/operator.js';
import { Late, type Part } from '../core/parts.js';
import { RELEASE_VERSION } from '../core/release.js';
import type { Logger } from '../log/logger.js';
import type { OperatorMetrics } from '../metrics/operator.js';
import type { OperatorComponents } from './components.js';
import { receiverPlugin } from './receivers/wiring.js';
import { servingDnsNames } from './serving/certificate.js';
import { ManagedCertificate, type ServingCa } from './serving/secret.js';
import { createServingServer, type ServingPlugin, type ServingServer } from './serving/server.js';
import { apiCaller } from './runtime/api-call.js';
import { tokenReviewer } from './stream/review-client.js';
import { ServiceAccountKeys } from './stream/service-account-keys.js';
import { streamRoutes } from './stream/routes.js';
import { createInjection, type Injection } from './webhook/wiring.js';

/** What a plugin mounted on the HTTPS server (the admission webhook) may use. */
export interface ServingContext {
  readonly kc: KubeConfig;
  readonly log: Logger;
  readonly metrics: OperatorMetrics;
  readonly config: OperatorConfig;
  /** The CA of the serving certificate, and its changes (the webhook's caBundle). */
  readonly ca: ServingCa;
}

export interface HttpsDeps {
  readonly kc: KubeConfig;
  readonly log: Logger;
  readonly servingPlugins?: (ctx: ServingContext) => readonly ServingPlugin[];
  readonly servingSecretPollMs?: number;
}

export interface HttpsPart {
  readonly part: Part;
  readonly ca: ServingCa;
  /** The bound address; only once the part has started. */
  address(): AddressInfo;
}

export function servingPart(cfg: OperatorConfig, deps: HttpsDeps, c: OperatorComponents): HttpsPart {
  const { kc, log } = deps;
  const cert = new ManagedCertificate({
    core: kc.makeApiClient(CoreV1Api),
    namespace: cfg.namespace,
    want: {
      dnsNames: servingDnsNames(cfg.namespace, cfg.serviceName, cfg.servingDnsNames),
      ipAddresses: cfg.servingIpAddresses,
    },
    certManager: cfg.certManager,
    log: log.child({ component: 'serving-secret' }),
    ...(deps.servingSecretPollMs === undefined ? {} : { pollMs: deps.servingSecretPollMs }),
  });
  const injection = injectionOf(cfg, deps, c);
  const auth = streamAuth(cfg, deps);
  const syncCa = (caPem: string): void => {
    injection?.onCertificate(caPem).catch((err: unknown) => {
      log.error({ err: (err as Error).message }, 'webhook caBundle sync failed');
    });
  };
  const address = new Late<AddressInfo>('serving address');
  let serving: ServingServer | undefined;
  const stop = async (): Promise<void> => {
    auth.keys?.stop();
    cert.stop();
    await serving?.close();
  };
  const start = async (): Promise<void> => {
    try {
      auth.keys?.start();
      const material = await cert.start();
      c.signer.use(material);
      syncCa(material.caPem);
      const server = await createServingServer({
        tls: material,
        log: log.child({ component: 'serving' }),
        plugins: plugins(cfg, deps, c, cert, injection, auth),
      });
      serving = server;
      cert.onChange((m) => {
        c.signer.use(m);
        server.reload(m);
        syncCa(m.caPem);
      });
      address.set(await server.listen(cfg.serve));
      log.info({ address: address.get() }, 'serving HTTPS');
    } catch (err) {
      await stop();
      throw err;
    }
  };
  return { part: { name: 'https', start, stop }, ca: cert, address: () => address.get() };
}

/**
 * How the config stream authenticates sidecar tokens: TokenReviews over a kept-alive pool, and
 * (the default) the service-account issuer's keys first (docs/adr/0017).
 */
function streamAuth(cfg: OperatorConfig, deps: HttpsDeps) {
  const call = apiCaller(deps.kc);
  const keys =
    cfg.streamAuth === 'issuer-keys'
      ? new ServiceAccountKeys({ call, log: deps.log.child({ component: 'service-account-keys' }) })
      : undefined;
  return {
    keys,
    review: tokenReviewer(call),
    ...(keys === undefined ? {} : { verify: (token: string) => keys.check(token) }),
  };
}
type StreamAuthParts = ReturnType<typeof streamAuth>;

/** The injection webhook runs when the chart gives its settings (--injection-config); it refuses
 * pods until the policy cache has synced and the serving CA is known. */
function injectionOf(cfg: OperatorConfig, deps: HttpsDeps, c: OperatorComponents): Injection | undefined {
  if (cfg.injection === undefined) return undefined;
  return createInjection({
    kc: deps.kc,
    config: cfg.injection,
    webhookConfiguration: cfg.webhookConfiguration,
    catalog: c.catalog,
    policiesSynced: () => c.informers.policies.synced(),
    log: deps.log.child({ component: 'webhook' }),
    registry: c.metrics.registry,
    version: RELEASE_VERSION,
    sealKey: c.integrity.sealKey,
  });
}

function plugins(
  cfg: OperatorConfig,
  deps: HttpsDeps,
  c: OperatorComponents,
  ca: ServingCa,
  injection: Injection | undefined,
  auth: StreamAuthParts,
): ServingPlugin[] {
  const { kc, log } = deps;
  const slog = log.child({ component: 'serving' });
  return [
    {
      plugin: streamRoutes,
      options: {
        hub: c.hub,
        review: auth.review,
        ...(auth.verify === undefined ? {} : { verify: auth.verify }),
        log: slog,
        metrics: c.metrics,
      },
    },
    ...(injection === undefined ? [] : [{ plugin: injection.plugin }]),
    // Identity-provider events → TokenRevocations (src/operator/receivers).
    receiverPlugin({
      kc,
      policies: c.informers.policies.cache,
      keys: c.keys,
      metrics: c.metrics,
      log: log.child({ component: 'receivers' }),
    }),
    ...(deps.servingPlugins?.({ kc, log, metrics: c.metrics, config: cfg, ca }) ?? []),
  ];
}
