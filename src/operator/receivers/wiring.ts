/**
 * The receivers wired to the operator's parts: policies from the informer cache (validated and
 * compiled as the reconciler does, src/operator/policy/readiness.ts, once per resourceVersion),
 * keys from the shared key stores, revocations created through the API server.
 */
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../../log/logger.js';
import type { OperatorMetrics } from '../../metrics/operator.js';
import type { CompiledPolicy } from '../../policy/types.js';
import type { SharedKeys } from '../policy/keys.js';
import { checkSpec } from '../policy/readiness.js';
import type { RawObject } from '../runtime/informers.js';
import { FIELD_MANAGER, REVOCATIONS, apiStatus } from '../runtime/k8s.js';
import { EventReceiver } from './receiver.js';
import type { EventRevocation } from './revocation.js';
import { receiverRoutes } from './routes.js';

export interface ReceiverWiring {
  readonly kc: KubeConfig;
  readonly policies: { get(name: string, namespace?: string): RawObject | undefined };
  readonly keys: SharedKeys;
  readonly metrics: OperatorMetrics;
  readonly log: Logger;
}

/** The plugin and its options, as the serving server registers them. */
export function receiverPlugin(w: ReceiverWiring): {
  plugin: typeof receiverRoutes;
  options: { receiver: EventReceiver };
} {
  const custom = w.kc.makeApiClient(CustomObjectsApi);
  const compiled = new Map<string, { version: string; policy: CompiledPolicy | undefined }>();
  const policy = (namespace: string, name: string): CompiledPolicy | undefined => {
    const obj = w.policies.get(name, namespace);
    const key = `${namespace}/${name}`;
    if (obj === undefined) {
      compiled.delete(key);
      return undefined;
    }
    const version = `${obj.metadata?.uid ?? ''}/${obj.metadata?.resourceVersion ?? ''}`;
    const known = compiled.get(key);
    if (known?.version === version) return known.policy;
    const check = checkSpec(obj);
    const p = check.ok ? check.compiled : undefined;
    compiled.set(key, { version, policy: p });
    return p;
  };
  const create = async (revocation: EventRevocation): Promise<'created' | 'exists'> => {
    try {
      await custom.createNamespacedCustomObject({
        ...REVOCATIONS,
        namespace: revocation.metadata.namespace,
        body: revocation,
        fieldManager: FIELD_MANAGER,
      });
      return 'created';
    } catch (err) {
      if (apiStatus(err) === 409) return 'exists';
      throw err;
    }
  };
  const receiver = new EventReceiver({
    policy,
    keys: (policyKey, issuer) => w.keys.resolverFor(policyKey, issuer),
    create,
    metrics: w.metrics,
    log: w.log,
  });
  return { plugin: receiverRoutes, options: { receiver } };
}
