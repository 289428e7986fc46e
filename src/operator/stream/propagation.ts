/**
 * When has every sidecar connected to this replica acknowledged a TokenRevocation write?
 *
 * A write (a new `metadata.generation`; status updates do not move it) is `observed` when the
 * informer delivers it. At the next flush each policy it applies to is `built` into a config
 * with a replica-local sequence number S; the sessions of that policy then are the ones that
 * must ack a generation ≥ S (sessions opening later get a snapshot already holding it). When no
 * such session is left unacknowledged the write is acknowledged: `ackedAt − observedAt` is the
 * propagation time. Pure bookkeeping, `now` passed in.
 */
import type { Session } from './sessions.js';

export interface RevocationAck {
  readonly generation: number;
  readonly uid: string;
  readonly observedAt: number;
  /** Set once every matching session on this replica acknowledged. */
  readonly ackedAt?: number;
  /** Sessions that acknowledged it. */
  readonly sidecars: number;
  /** Sessions still to acknowledge. */
  readonly pending: number;
}

interface Target {
  seq: number | undefined;
  readonly remaining: Set<string>;
}

interface Pending {
  readonly key: string;
  readonly generation: number;
  readonly uid: string;
  readonly observedAt: number;
  readonly targets: Map<string, Target>;
  acked: number;
  ackedAt?: number;
}

export class Propagation {
  private readonly records = new Map<string, Pending>();
  /**
   * Per policy, the records still waiting for one of its sessions: an ack looks only at these
   * (a few at a time), not at every revocation ever observed.
   */
  private readonly waiting = new Map<string, Set<Pending>>();

  constructor(private readonly onDone: (ack: RevocationAck & { key: string }) => void) {}

  observed(key: string, generation: number, uid: string, policies: readonly string[], now: number): void {
    const prev = this.records.get(key);
    if (prev !== undefined && prev.uid === uid && prev.generation === generation) return;
    const targets = new Map<string, Target>();
    for (const p of policies) targets.set(p, { seq: undefined, remaining: new Set() });
    if (prev !== undefined) this.unwait(prev);
    this.records.set(key, { key, generation, uid, observedAt: now, targets, acked: 0 });
  }

  forget(key: string): void {
    const r = this.records.get(key);
    if (r !== undefined) this.unwait(r);
    this.records.delete(key);
  }

  /** `policy` was rebuilt at `seq`; `sessions` are the ones connected for it now. */
  built(policy: string, seq: number, sessions: readonly Session[]): void {
    for (const r of this.records.values()) {
      const t = r.targets.get(policy);
      if (t === undefined || t.seq !== undefined) continue;
      t.seq = seq;
      for (const s of sessions) {
        if (s.ackedGeneration >= seq) r.acked++;
        else t.remaining.add(s.id);
      }
      if (t.remaining.size > 0) this.waitingFor(policy).add(r);
    }
  }

  acked(s: Session, now: number): void {
    const waiting = this.waiting.get(s.policy);
    if (waiting === undefined) return;
    for (const r of [...waiting]) {
      const t = r.targets.get(s.policy);
      if (t?.seq === undefined || !t.remaining.has(s.id) || s.ackedGeneration < t.seq) continue;
      t.remaining.delete(s.id);
      r.acked++;
      this.targetDrained(s.policy, r, t, now);
    }
  }

  /** A session that goes away owes nothing any more (it will get a snapshot when it returns). */
  sessionGone(s: Session, now: number): void {
    const waiting = this.waiting.get(s.policy);
    if (waiting === undefined) return;
    for (const r of [...waiting]) {
      const t = r.targets.get(s.policy);
      if (t?.remaining.delete(s.id) === true) this.targetDrained(s.policy, r, t, now);
    }
  }

  /**
   * After a flush: targets that were never built (no sidecar here serves that policy) need
   * nothing; records with nothing left are acknowledged.
   */
  settle(now: number): void {
    for (const [key, r] of this.records) {
      for (const t of r.targets.values()) if (t.seq === undefined) t.seq = 0;
      this.complete(key, r, now);
    }
  }

  summary(): Map<string, RevocationAck> {
    const out = new Map<string, RevocationAck>();
    for (const [key, r] of this.records) out.set(key, view(r));
    return out;
  }

  private waitingFor(policy: string): Set<Pending> {
    let set = this.waiting.get(policy);
    if (set === undefined) this.waiting.set(policy, (set = new Set()));
    return set;
  }

  /** After a session of `policy` left `t`: once nobody is left, `r` no longer waits on it. */
  private targetDrained(policy: string, r: Pending, t: Target, now: number): void {
    if (t.remaining.size > 0) return;
    const set = this.waiting.get(policy);
    set?.delete(r);
    if (set?.size === 0) this.waiting.delete(policy);
    this.complete(r.key, r, now);
  }

  private unwait(r: Pending): void {
    for (const policy of r.targets.keys()) {
      const set = this.waiting.get(policy);
      set?.delete(r);
      if (set?.size === 0) this.waiting.delete(policy);
    }
  }

  private complete(key: string, r: Pending, now: number): void {
    if (r.ackedAt !== undefined) return;
    for (const t of r.targets.values()) if (t.seq === undefined || t.remaining.size > 0) return;
    r.ackedAt = now;
    this.onDone({ key, ...view(r) });
  }
}

function view(r: Pending): RevocationAck {
  let pending = 0;
  for (const t of r.targets.values()) pending += t.remaining.size;
  return {
    generation: r.generation,
    uid: r.uid,
    observedAt: r.observedAt,
    ...(r.ackedAt === undefined ? {} : { ackedAt: r.ackedAt }),
    sidecars: r.acked,
    pending,
  };
}
