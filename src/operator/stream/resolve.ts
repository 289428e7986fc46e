/**
 * Which policy a connecting sidecar is served, with the refusals of the contract
 * (docs/contracts/in-cluster.md): the pod must exist with the uid its token names, run as the
 * ServiceAccount its token names, be live, and be selected by a TokenPolicy of its own namespace (the catalog's choice, the one the
 * webhook injected for).
 */
import type { ObjectCache, V1Pod } from '@kubernetes/client-node';
import type { StreamRefusal } from '../../distribution/protocol.js';
import type { Logger } from '../../log/logger.js';
import type { PolicyCatalog } from '../policy/catalog.js';
import { isLivePod } from '../policy/selector.js';
import type { PodRef } from './sessions.js';

export type Refusal = StreamRefusal & { readonly status: number };

export type Resolved = { readonly ok: true; readonly policy: string } | ({ readonly ok: false } & Refusal);

type Labels = Readonly<Record<string, string>> | undefined;
export type SelectPolicy = (namespace: string, labels: Labels) => string | undefined;

/** The catalog's choice as a policy key, with the conflict of several selecting one pod logged. */
export function policySelector(catalog: PolicyCatalog, log: Logger): SelectPolicy {
  return (namespace, labels) => {
    const selected = catalog.policyFor({ namespace, labels });
    if (selected !== undefined && selected.conflicting.length > 0)
      log.warn(
        { namespace, policies: selected.conflicting },
        'several TokenPolicies select one pod; serving the first by name',
      );
    return selected?.key;
  };
}

export function resolvePod(
  catalog: PolicyCatalog,
  pods: Pick<ObjectCache<V1Pod>, 'get'>,
  select: SelectPolicy,
  pod: PodRef,
  serviceAccount: string,
): Resolved {
  const noPolicy: Resolved = {
    ok: false,
    status: 404,
    reason: 'no_policy',
    message: `no TokenPolicy in namespace ${pod.namespace} selects pod ${pod.name}`,
  };
  // Pods are only watched where policies are: a namespace without one has nothing to serve.
  if (catalog.list(pod.namespace).length === 0) return noPolicy;
  const live = pods.get(pod.name, pod.namespace);
  if (live === undefined || live.metadata?.uid !== pod.uid || !isLivePod(live))
    return {
      ok: false,
      status: 403,
      reason: 'pod_not_found',
      message: `pod ${pod.namespace}/${pod.name} (uid ${pod.uid}) does not exist or is terminating`,
    };
  // A token is only ever issued for the pod's own ServiceAccount; checked here too, since a
  // token checked against the issuer keys (pod-token.ts) was not looked up by the API server.
  const runsAs = live.spec?.serviceAccountName ?? live.spec?.serviceAccount ?? 'default';
  if (runsAs !== serviceAccount)
    return {
      ok: false,
      status: 403,
      reason: 'pod_not_found',
      message: `pod ${pod.namespace}/${pod.name} does not run as ServiceAccount ${serviceAccount}`,
    };
  const policy = select(pod.namespace, live.metadata?.labels);
  return policy === undefined ? noPolicy : { ok: true, policy };
}
