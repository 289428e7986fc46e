/**
 * Which TokenPolicy selects a pod being created, answered by the operator's policy catalog from
 * the informer cache (no API call on the admission path): the same answer the config stream
 * gives the pod's sidecar once it runs.
 */
import type { PolicyCatalog } from '../policy/catalog.js';
import { sharedStoreEnv } from '../../shared-store/pod-env.js';
import type { InjectionPolicy } from './inject.js';

export type PolicyLookup =
  /** The cache has not listed yet: the webhook refuses rather than guess (never fail open). */
  | { readonly status: 'not_ready' }
  | { readonly status: 'none' }
  | { readonly status: 'found'; readonly policy: InjectionPolicy };

export type LookupPolicy = (
  namespace: string,
  labels: Readonly<Record<string, string>> | undefined,
) => PolicyLookup;

export function policyLookupFromCatalog(catalog: PolicyCatalog, synced: () => boolean): LookupPolicy {
  return (namespace, labels) => {
    if (!synced()) return { status: 'not_ready' };
    const selected = catalog.policyFor({ namespace, labels });
    if (selected === undefined) return { status: 'none' };
    const env = sharedStoreEnv(selected.spec);
    return { status: 'found', policy: { name: selected.name, targetPort: selected.targetPort, env } };
  };
}
