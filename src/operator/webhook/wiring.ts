/**
 * The injection webhook as the operator runs it: the plugin for the HTTPS server, fed by the
 * policy informer and the chart's injection config, and the hook the serving certificate calls
 * when it changes (the CA goes into injected pods and into the webhook's caBundle).
 *
 * run.ts (with the serving server) does:
 *   const injection = createInjection({ … });
 *   server.register(injection.plugin);
 *   certificate.onChange((ca) => injection.onCertificate(ca));
 */
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { FastifyPluginAsync } from 'fastify';
import type { Registry } from 'prom-client';
import type { InjectionFileConfig } from '../../config/injection.js';
import type { Logger } from '../../log/logger.js';
import { createWebhookMetrics } from '../../metrics/webhook.js';
import type { PolicyCatalog } from '../policy/catalog.js';
import { syncCaBundle, type CaBundleSync } from './ca-bundle.js';
import { UnprotectedGauge } from '../status/unprotected-gauge.js';
import { policyLookupFromCatalog } from './lookup.js';
import { loadSealKey } from './seal-key.js';
import { injectionWebhook } from './routes.js';

export interface InjectionOptions {
  readonly kc: KubeConfig;
  readonly config: InjectionFileConfig;
  /** The MutatingWebhookConfiguration to keep in step; undefined: none (tests, no webhook). */
  readonly webhookConfiguration: string | undefined;
  readonly catalog: PolicyCatalog;
  readonly policiesSynced: () => boolean;
  readonly log: Logger;
  readonly registry: Registry;
  /** Stamped on injected pods (`tokenwarden.dev/injected`). */
  readonly version: string;
  /** The seal key (seal-key.ts loadSealKey). */
  readonly sealKey: Uint8Array;
}

export interface Injection {
  readonly plugin: FastifyPluginAsync;
  /** Takes the serving CA for injected pods and writes it into the webhook's caBundle. */
  onCertificate(caPem: string): Promise<CaBundleSync | 'no_configuration'>;
}

export function createInjection(o: InjectionOptions): Injection {
  let caPem = '';
  const synced = (): boolean => o.policiesSynced() && caPem !== '';
  const plugin = injectionWebhook({
    settings: () => ({ ...o.config, caPem, version: o.version }),
    // Until the CA is known an injected sidecar could not trust the operator: refuse as not ready.
    lookupPolicy: policyLookupFromCatalog(o.catalog, synced),
    sealKey: o.sealKey,
    log: o.log,
    metrics: createWebhookMetrics(o.registry),
  });
  return {
    plugin,
    async onCertificate(pem) {
      caPem = pem;
      if (o.webhookConfiguration === undefined) return 'no_configuration';
      const result = await syncCaBundle(o.kc, o.webhookConfiguration, pem);
      if (result !== 'unchanged') {
        o.log.info({ configuration: o.webhookConfiguration, result }, 'webhook caBundle synced');
      }
      return result;
    },
  };
}

/** What injection integrity gives the operator's other parts (run.ts spreads `reconciler`). */
export interface Integrity {
  readonly sealKey: Uint8Array;
  /** For PolicyReconcilerDeps: counting unprotected pods needs the key; the gauge is per reason. */
  readonly reconciler: { readonly sealKey: Uint8Array; readonly unprotectedGauge: UnprotectedGauge };
}

/** Loads (or creates) the seal key; the operator does not start without it. */
export async function loadIntegrity(o: {
  kc: KubeConfig;
  namespace: string;
  registry: Registry;
  log: Logger;
}): Promise<Integrity> {
  const sealKey = await loadSealKey(o.kc.makeApiClient(CoreV1Api), o.namespace, o.log);
  return { sealKey, reconciler: { sealKey, unprotectedGauge: new UnprotectedGauge(o.registry) } };
}
