/**
 * Which TokenPolicy selects a pod being created, answered from the operator's policy informer
 * cache (no API call on the admission path). Namespace-local only, as the stream does.
 */
import type { ObjectCache } from '@kubernetes/client-node';
import type { LabelSelector } from '../../policy/types.js';
import type { RawObject } from '../runtime/informers.js';
import { matchesSelector } from '../policy/selector.js';
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

/**
 * Several policies selecting one pod is a user error the stream also has to settle: the first
 * by name wins, so the webhook and the stream agree without coordination.
 */
export function policyLookupFromCache(policies: ObjectCache<RawObject>, synced: () => boolean): LookupPolicy {
  return (namespace, labels) => {
    if (!synced()) return { status: 'not_ready' };
    const matching = policies
      .list(namespace)
      .filter((p) => {
        const spec = p.spec as { selector?: LabelSelector; targetPort?: unknown } | undefined;
        return typeof spec?.targetPort === 'number' && matchesSelector(spec.selector, labels);
      })
      .sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
    const first = matching[0];
    if (first === undefined) return { status: 'none' };
    return {
      status: 'found',
      policy: {
        name: first.metadata?.name ?? '',
        targetPort: (first.spec as { targetPort: number }).targetPort,
      },
    };
  };
}
