/**
 * Leader election decisions over a coordination.k8s.io/v1 Lease, pure, `now` passed in.
 *
 * As in client-go's leaderelection: a follower never compares the holder's `renewTime` with its
 * own clock. It remembers when *it* last saw the lease record change and treats the lease as
 * expired once `leaseDurationSeconds` have passed since then without a change, so clock skew
 * between nodes cannot hand the lease to two replicas. A leader counts itself leading only
 * until `renewDeadline` (< lease duration) after its last successful renewal began: a replica
 * cut off from the API server stops writing before anyone else may take over.
 */

export interface LeaseView {
  /** '' when the lease was released. */
  readonly holder: string;
  readonly durationSeconds: number;
  /** As stored; only compared for change, never against the local clock. */
  readonly renewTime: string;
  readonly transitions: number;
}

/** When this replica last saw the lease record (holder + renewTime) change, local clock. */
export interface Observation {
  readonly record: string;
  readonly at: number;
}

export type LeaseDecision =
  | { readonly action: 'create' }
  | { readonly action: 'renew' }
  /** Take over a lease that was released or has expired. */
  | { readonly action: 'acquire'; readonly transitions: number }
  | { readonly action: 'wait'; readonly holder: string; readonly expiresInMs: number };

export interface LeaderTimings {
  readonly leaseMs: number;
  /** A leader that could not renew for this long stops acting as leader. */
  readonly renewDeadlineMs: number;
  /** How often to try to acquire or renew. */
  readonly retryMs: number;
}

/** client-go's defaults are 15 s / 10 s / 2 s; the same proportions for any lease duration. */
export function leaderTimings(leaseDurationSeconds: number): LeaderTimings {
  const leaseMs = leaseDurationSeconds * 1000;
  return {
    leaseMs,
    renewDeadlineMs: Math.round((leaseMs * 2) / 3),
    retryMs: Math.max(100, Math.round(leaseMs / 7)),
  };
}

function recordKey(lease: LeaseView): string {
  return `${lease.holder}\u0000${lease.renewTime}`;
}

/** The observation after seeing `lease` at `now`: the time moves only when the record changed. */
export function observe(prev: Observation | undefined, lease: LeaseView, now: number): Observation {
  const record = recordKey(lease);
  return prev !== undefined && prev.record === record ? prev : { record, at: now };
}

export function decideLease(
  lease: LeaseView | undefined,
  me: string,
  observed: Observation | undefined,
  now: number,
): LeaseDecision {
  if (lease === undefined) return { action: 'create' };
  if (lease.holder === me) return { action: 'renew' };
  if (lease.holder === '') return { action: 'acquire', transitions: lease.transitions + 1 };
  const seenAt = observed !== undefined && observed.record === recordKey(lease) ? observed.at : now;
  const expiresInMs = seenAt + lease.durationSeconds * 1000 - now;
  if (expiresInMs <= 0) return { action: 'acquire', transitions: lease.transitions + 1 };
  return { action: 'wait', holder: lease.holder, expiresInMs };
}

/** Whether a replica whose last successful renewal started at `lastRenewAt` may still act as leader. */
export function stillLeading(lastRenewAt: number | undefined, now: number, t: LeaderTimings): boolean {
  return lastRenewAt !== undefined && now - lastRenewAt < t.renewDeadlineMs;
}
