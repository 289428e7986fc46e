/**
 * The sessions open on this replica: who is connected (pod, policy), what each was sent and
 * what it acknowledged. Pure bookkeeping with `now` passed in; the writing of lines to a socket
 * is the Session's `send`, supplied by the route.
 */
import { randomBytes } from 'node:crypto';
import { PEER_TIMEOUT_MS } from '../../distribution/protocol.js';

export interface PodRef {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
}

/** Why the operator ended a session (a log field and a stream-error reason). */
export type CloseReason =
  | 'ack_timeout'
  | 'pod_gone'
  | 'policy_gone'
  | 'not_selected'
  | 'shutdown'
  | 'client_closed'
  | 'replaced'
  /** The peer did not read: its unsent bytes passed the bound (routes.ts). */
  | 'slow_consumer'
  /** A line of the stream's request body that is no ack, or too long (stream-acks.ts). */
  | 'bad_ack';

export interface SessionIo {
  /**
   * Writes one NDJSON line (newline included): `line` alone, or `line` as the head of a line
   * whose shared `body` (never copied or changed) completes it. False when the socket's buffer
   * is full.
   */
  write(line: string, body?: Buffer): boolean;
  /** Ends the response (the sidecar reconnects). */
  end(reason: CloseReason): void;
}

export interface Session {
  readonly id: string;
  readonly pod: PodRef;
  /** `namespace/name` of the TokenPolicy it is served. */
  readonly policy: string;
  readonly io: SessionIo;
  readonly connectedAt: number;
  lastAckAt: number;
  /**
   * Last generation and version sent on this session. The generation is the policy's
   * replica-local sequence number (policy-feed.ts), so it only grows on a session.
   */
  sentGeneration: number;
  sentVersion: string;
  /** Generation of the first message sent on this session (0 before it); sent.ts. */
  firstGeneration: number;
  /** Last version the sidecar said it enforces ('' until its first ack); SessionTable.ack moves it. */
  readonly ackedVersion: string;
  ackedGeneration: number;
  /**
   * A snapshot or delta went out since the last heartbeat tick: the peer heard from us, so
   * this tick sends it no heartbeat (between two lines: at most two intervals, 10 s).
   */
  wroteSinceTick: boolean;
  /** The sidecar asked for compact proofs (protocol.ts `PROOFS_HEADER`). */
  readonly compactProofs: boolean;
  /** `chainIdOf` the certificate chain last sent in full on this session ('' before any). */
  chainSent: string;
}

export interface SessionOptions {
  readonly compactProofs?: boolean;
}

export type AckOutcome = 'ok' | 'unknown_session' | 'future_generation';

export class SessionTable {
  private readonly byId = new Map<string, Session>();
  private readonly byPolicy = new Map<string, Set<Session>>();
  private readonly perPod = new Map<string, number>();
  /** Per policy: acked version → sessions whose last ack names it (counts() in O(1) per ack). */
  private readonly ackedBy = new Map<string, Map<string, number>>();

  open(pod: PodRef, policy: string, io: SessionIo, now: number, options: SessionOptions = {}): Session {
    const s: Session = {
      id: randomBytes(16).toString('base64url'),
      pod,
      policy,
      io,
      connectedAt: now,
      // Connecting counts as a sign of life: the 15 s ack budget starts now.
      lastAckAt: now,
      sentGeneration: 0,
      sentVersion: '',
      firstGeneration: 0,
      ackedVersion: '',
      ackedGeneration: 0,
      wroteSinceTick: false,
      compactProofs: options.compactProofs ?? false,
      chainSent: '',
    };
    this.byId.set(s.id, s);
    let set = this.byPolicy.get(policy);
    if (set === undefined) this.byPolicy.set(policy, (set = new Set()));
    set.add(s);
    this.perPod.set(pod.uid, (this.perPod.get(pod.uid) ?? 0) + 1);
    return s;
  }

  /** Forgets the session; returns it when it was open. */
  remove(id: string): Session | undefined {
    const s = this.byId.get(id);
    if (s === undefined) return undefined;
    this.byId.delete(id);
    const set = this.byPolicy.get(s.policy);
    set?.delete(s);
    if (set?.size === 0) this.byPolicy.delete(s.policy);
    this.moveAck(s, '');
    const n = (this.perPod.get(s.pod.uid) ?? 1) - 1;
    if (n > 0) this.perPod.set(s.pod.uid, n);
    else this.perPod.delete(s.pod.uid);
    return s;
  }

  /** Sessions open for the pod with this uid. */
  countForPod(uid: string): number {
    return this.perPod.get(uid) ?? 0;
  }

  get(id: string): Session | undefined {
    return this.byId.get(id);
  }

  /** Records an ack. A generation never sent on the session is refused (a confused or forged peer). */
  ack(id: string, generation: number, version: string, now: number): AckOutcome {
    const s = this.byId.get(id);
    if (s === undefined) return 'unknown_session';
    if (generation > s.sentGeneration) return 'future_generation';
    s.lastAckAt = now;
    if (generation >= s.ackedGeneration) {
      s.ackedGeneration = generation;
      this.moveAck(s, version);
    }
    return 'ok';
  }

  forPolicy(policy: string): readonly Session[] {
    return [...(this.byPolicy.get(policy) ?? [])];
  }

  forPod(namespace: string, name: string): Session[] {
    const out: Session[] = [];
    for (const s of this.byId.values()) if (s.pod.namespace === namespace && s.pod.name === name) out.push(s);
    return out;
  }

  policies(): string[] {
    return [...this.byPolicy.keys()];
  }

  all(): Session[] {
    return [...this.byId.values()];
  }

  get size(): number {
    return this.byId.size;
  }

  /** Sessions whose last ack is older than the peer timeout. */
  silent(now: number, timeoutMs = PEER_TIMEOUT_MS): Session[] {
    const out: Session[] = [];
    for (const s of this.byId.values()) if (now - s.lastAckAt > timeoutMs) out.push(s);
    return out;
  }

  /** Connected sessions of `policy`, and those whose last ack is `version`. */
  counts(policy: string, version: string | undefined): { connected: number; synced: number } {
    const connected = this.byPolicy.get(policy)?.size ?? 0;
    const synced = version === undefined ? 0 : (this.ackedBy.get(policy)?.get(version) ?? 0);
    return { connected, synced };
  }

  /** `s` now acknowledges `version` ('' for none, e.g. when it goes): keeps `ackedBy` true. */
  private moveAck(s: Session, version: string): void {
    if (s.ackedVersion === version) return;
    let byVersion = this.ackedBy.get(s.policy);
    if (byVersion === undefined) this.ackedBy.set(s.policy, (byVersion = new Map<string, number>()));
    if (s.ackedVersion !== '') {
      const left = (byVersion.get(s.ackedVersion) ?? 1) - 1;
      if (left > 0) byVersion.set(s.ackedVersion, left);
      else byVersion.delete(s.ackedVersion);
    }
    if (version !== '') byVersion.set(version, (byVersion.get(version) ?? 0) + 1);
    if (byVersion.size === 0) this.ackedBy.delete(s.policy);
    (s as { ackedVersion: string }).ackedVersion = version;
  }
}
