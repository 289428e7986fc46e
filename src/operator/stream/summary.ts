/**
 * Per-replica summaries of the config stream and their aggregation (pure). Each replica
 * publishes what its own sessions acknowledged; the leader adds them up into status:
 * `syncedSidecars` per policy, and per revocation when every replica's matching sidecars had
 * acknowledged it. A summary older than STALE_MS is ignored (its replica is gone or stuck, and
 * its sidecars have reconnected elsewhere).
 */
import type { PolicySummary } from './hub.js';
import type { RevocationAck } from './propagation.js';
import type { AggregatedAck } from '../revocation/reconcile.js';

export interface ReplicaSummary {
  readonly identity: string;
  /** Epoch ms of the last publish; also a liveness signal. */
  readonly updatedAt: number;
  readonly policies: Record<string, PolicySummary>;
  readonly revocations: Record<string, RevocationAck>;
}

export const STALE_MS = 30_000;
/** Revocations kept in a summary: pending ones and those acknowledged recently. */
const RECENT_MS = 10 * 60_000;
const MAX_REVOCATIONS = 2_000;

export function makeSummary(
  identity: string,
  now: number,
  policies: Map<string, PolicySummary>,
  revocations: Map<string, RevocationAck>,
): ReplicaSummary {
  const recent = [...revocations]
    .filter(([, r]) => r.ackedAt === undefined || now - r.ackedAt < RECENT_MS)
    .sort((a, b) => b[1].observedAt - a[1].observedAt)
    .slice(0, MAX_REVOCATIONS);
  return {
    identity,
    updatedAt: now,
    policies: Object.fromEntries(policies),
    revocations: Object.fromEntries(recent),
  };
}

export type { AggregatedAck };

export class Aggregate {
  constructor(private readonly fresh: readonly ReplicaSummary[]) {}

  static of(summaries: readonly ReplicaSummary[], now: number): Aggregate {
    return new Aggregate(summaries.filter((s) => now - s.updatedAt <= STALE_MS));
  }

  /** Sidecars acknowledging the current version of `policy`, on every live replica. */
  synced(policy: string): number {
    let n = 0;
    for (const s of this.fresh) n += s.policies[policy]?.synced ?? 0;
    return n;
  }

  connected(policy: string): number {
    let n = 0;
    for (const s of this.fresh) n += s.policies[policy]?.connected ?? 0;
    return n;
  }

  /**
   * Acknowledged on every live replica (each tracks every revocation it has seen), for this
   * uid and generation; undefined while any replica still waits or has not seen it.
   */
  revocation(key: string, uid: string, generation: number): AggregatedAck | undefined {
    if (this.fresh.length === 0) return undefined;
    let ackedAt = 0;
    let observedAt = Infinity;
    let sidecars = 0;
    for (const s of this.fresh) {
      const r = s.revocations[key];
      if (r === undefined || r.uid !== uid || r.generation !== generation || r.ackedAt === undefined)
        return undefined;
      ackedAt = Math.max(ackedAt, r.ackedAt);
      observedAt = Math.min(observedAt, r.observedAt);
      sidecars += r.sidecars;
    }
    return {
      generation,
      acknowledgedAt: ackedAt,
      propagationSeconds: Math.max(0, ackedAt - observedAt) / 1000,
      sidecars,
    };
  }

  policyKeys(): Set<string> {
    const out = new Set<string>();
    for (const s of this.fresh) for (const k of Object.keys(s.policies)) out.add(k);
    return out;
  }

  /** Every revocation key with a fingerprint of what the replicas say of it. */
  revocationStates(): Map<string, string> {
    const out = new Map<string, string>();
    for (const s of this.fresh)
      for (const [k, r] of Object.entries(s.revocations))
        out.set(k, `${out.get(k) ?? ''}|${s.identity}:${r.uid}:${r.generation}:${r.ackedAt ?? '-'}`);
    return out;
  }
}

/** The one ConfigMap (created by the chart) holding every replica's summary, one key each. */
export const REPLICAS_CONFIGMAP = 'tokenwarden-replicas';

/**
 * A replica's data key in REPLICAS_CONFIGMAP (`[-._a-zA-Z0-9]`, pod names already are;
 * hostname_pid is not), at most 100 characters so that its field manager fits in 128.
 */
export function replicaKey(identity: string): string {
  const clean = identity
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '');
  return (clean.slice(0, 100).replace(/[-.]+$/, '') || 'replica') + '.json';
}

/** The server-side-apply field manager owning exactly one replica's key. */
export function replicaFieldManager(key: string): string {
  return `tokenwarden-replica-${key.replace(/\.json$/, '')}`;
}

/** The budget of one replica's summary: four fit the ConfigMap's 1 MiB with room to spare. */
export const MAX_SUMMARY_BYTES = 200 * 1024;

/**
 * The summary as JSON within `maxBytes`: the oldest revocations are dropped first. A missing
 * revocation only delays its aggregated acknowledgement (never reports one that did not happen);
 * undefined when the policies alone do not fit.
 */
export function fitSummary(s: ReplicaSummary, maxBytes = MAX_SUMMARY_BYTES): string | undefined {
  let text = JSON.stringify(s);
  if (Buffer.byteLength(text) <= maxBytes) return text;
  // makeSummary sorts revocations newest first; halve until it fits.
  let kept = Object.entries(s.revocations);
  while (kept.length > 0) {
    kept = kept.slice(0, Math.floor(kept.length / 2));
    text = JSON.stringify({ ...s, revocations: Object.fromEntries(kept) });
    if (Buffer.byteLength(text) <= maxBytes) return text;
  }
  return undefined;
}
