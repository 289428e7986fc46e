/**
 * Where informer events and replica acknowledgements go, besides the controller's own queue
 * (controller.ts maps events to reconcile keys): the config stream's updates, and the keys the
 * replicas' acknowledgements make stale.
 */
import type { Informers } from './runtime/informers.js';
import type { StreamHub } from './stream/hub.js';

/** Every informer event the config stream reacts to, routed to the hub's updates. */
export function routeToStream(informers: Informers, hub: StreamHub): void {
  informers.policies.onEvent((event, obj) =>
    hub.updates.policyChanged(
      obj.metadata?.namespace ?? '',
      obj.metadata?.name ?? '',
      event === 'delete' ? undefined : (obj.metadata?.generation ?? 0),
    ),
  );
  informers.revocations.onEvent((event, obj) => {
    const policyName = (obj.spec as { policyName?: unknown } | undefined)?.policyName;
    hub.updates.revocationChanged(
      event === 'delete',
      obj,
      typeof policyName === 'string' ? policyName : undefined,
    );
  });
  informers.pods.onEvent((event, pod) => hub.updates.podChanged(event === 'delete', pod));
}

function splitKey(key: string): [string, string] {
  const i = key.indexOf('/');
  return [key.slice(0, i), key.slice(i + 1)];
}

/** Replica acknowledgements changed for these `namespace/name` keys: reconcile them again. */
export function acknowledgementsChanged(
  enqueue: (kind: 'TokenPolicy' | 'TokenRevocation', namespace: string, name: string) => void,
  policies: Iterable<string>,
  revocations: Iterable<string>,
): void {
  for (const k of policies) enqueue('TokenPolicy', ...splitKey(k));
  for (const k of revocations) enqueue('TokenRevocation', ...splitKey(k));
}
