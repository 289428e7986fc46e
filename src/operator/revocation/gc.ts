/**
 * Garbage collection of TokenRevocations past `spec.expiresAt`. The decision is pure (`now`
 * passed in); the delete is done by the leader only, with a UID precondition so an object that
 * was deleted and re-created under the same name in between is never collected by mistake.
 */
import type { CustomObjectsApi } from '@kubernetes/client-node';
import { expiryMs, expiryPassed } from '../../revocation/rule.js';
import { REVOCATIONS, apiStatus } from '../runtime/k8s.js';

export type GcDecision =
  | { readonly action: 'delete' }
  /** Keep it; look again after `recheckInMs` (undefined: it never expires). */
  | { readonly action: 'keep'; readonly recheckInMs: number | undefined };

/** Longest single wait: a timer this long is re-armed rather than trusted to fire on time. */
const MAX_RECHECK_MS = 60 * 60_000;

export function gcDecision(expiresAt: string | undefined, nowMs: number): GcDecision {
  // One rule with the sidecar and the status (src/revocation/rule.ts): unparsable → never expires.
  const at = expiryMs(expiresAt);
  if (at === undefined) return { action: 'keep', recheckInMs: undefined };
  if (expiryPassed(at, nowMs)) return { action: 'delete' };
  // +1 ms: wake up just after the instant, when the object is already expired.
  return { action: 'keep', recheckInMs: Math.min(at - nowMs + 1, MAX_RECHECK_MS) };
}

export interface CollectTarget {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string | undefined;
}

/** Deletes the revocation. Already gone (404) or replaced (409, UID mismatch) counts as done. */
export async function collectRevocation(
  api: CustomObjectsApi,
  t: CollectTarget,
): Promise<'deleted' | 'gone'> {
  try {
    await api.deleteNamespacedCustomObject({
      ...REVOCATIONS,
      namespace: t.namespace,
      name: t.name,
      body: t.uid === undefined ? {} : { preconditions: { uid: t.uid } },
    });
    return 'deleted';
  } catch (err) {
    const status = apiStatus(err);
    if (status === 404 || status === 409) return 'gone';
    throw err;
  }
}
