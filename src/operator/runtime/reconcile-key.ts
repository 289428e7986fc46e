/**
 * What the work queue holds: which object of which kind to look at, as a typed value (never a
 * `kind/ns/name` string parsed back), and what the worker does with the key after a reconcile.
 */
import type { ReconcileKind } from '../../metrics/operator.js';

export interface ReconcileKey {
  readonly kind: ReconcileKind;
  readonly namespace: string;
  readonly name: string;
}

export function reconcileKey(kind: ReconcileKind, namespace: string, name: string): ReconcileKey {
  return { kind, namespace, name };
}

/** The queue identity of a key. `/` cannot appear in a namespace or a kind, so ids never collide. */
export function reconcileKeyId(k: ReconcileKey): string {
  return `${k.kind}/${k.namespace}/${k.name}`;
}

/** What the worker does with the key next. */
export interface ReconcileResult {
  /** Not done: try again after the key's backoff (without counting as an error). */
  readonly retry?: boolean;
  /** Done; look again after this long anyway (a revocation's expiry). */
  readonly requeueAfterMs?: number;
}
