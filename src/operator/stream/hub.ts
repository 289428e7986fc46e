/**
 * The config stream on one replica, as its sessions see it: which policy a pod is served
 * (`resolve`), opening a session with its first message (`connect`), acks, key refreshes,
 * heartbeats and closing. The feeds live in feeds.ts, informer events become pushes in
 * updates.ts, every line is written by send.ts. Heartbeats go out every 5 s to the sessions
 * that were sent nothing since the last tick (a delta says as much as a heartbeat); a session
 * silent for 15 s is closed.
 *
 * Invariants: a session only ever receives its own pod's policy (the catalog's choice, from the
 * pod's namespace alone); `generation` on a session only grows; a policy whose spec turns
 * invalid keeps serving its last valid config (fail-static, as a bad policy file does).
 */
import type { ObjectCache, V1Pod } from '@kubernetes/client-node';
import {
  HEARTBEAT_INTERVAL_MS,
  PEER_TIMEOUT_MS,
  type AckRequest,
  type KeysRefreshRequest,
} from '../../distribution/protocol.js';
import type { Logger } from '../../log/logger.js';
import type { OperatorMetrics } from '../../metrics/operator.js';
import type { RawObject } from '../runtime/informers.js';
import type { PolicyCatalog } from '../policy/catalog.js';
import type { SharedKeys } from '../policy/keys.js';
import { FeedTable } from './feeds.js';
import { publishSidecarCounts, revocationAcked } from './gauges.js';
import { Propagation, type RevocationAck } from './propagation.js';
import { policySelector, resolvePod, type Refusal, type Resolved, type SelectPolicy } from './resolve.js';
import { heartbeatLine, sendChange, sendSnapshot } from './send.js';
import { wasSent } from './sent.js';
import type { VersionSigner } from './signer.js';
import {
  SessionTable,
  type CloseReason,
  type PodRef,
  type Session,
  type SessionIo,
  type SessionOptions,
} from './sessions.js';
import { ConfigUpdates } from './updates.js';

export type { Refusal, Resolved } from './resolve.js';

export interface HubDeps {
  readonly catalog: PolicyCatalog;
  /** Pods by namespace/name (the scoped pod informers). */
  readonly pods: Pick<ObjectCache<V1Pod>, 'get'>;
  /** The TokenRevocation informer's cache (validated here, each object once). */
  readonly revocations: Pick<ObjectCache<RawObject>, 'list'>;
  readonly keys: SharedKeys;
  readonly log: Logger;
  readonly metrics?: OperatorMetrics;
  readonly now?: () => number;
  /** Signs each config version for the sidecars' snapshot files (signer.ts). */
  readonly signer?: Pick<VersionSigner, 'proof'>;
  /** Called (coalesced) whenever what `summary()` returns may have changed. */
  readonly onSummaryChange?: () => void;
}

export interface PolicySummary {
  readonly version: string;
  readonly connected: number;
  readonly synced: number;
}

export class StreamHub {
  readonly sessions = new SessionTable();
  /** Informer events in, pushes out (run.ts feeds it). */
  readonly updates: ConfigUpdates;
  private readonly configs: FeedTable;
  private heartbeat: NodeJS.Timeout | undefined;
  private readonly propagation: Propagation;
  private readonly now: () => number;
  private ready = false;
  private closed = false;
  private readonly select: SelectPolicy;
  /** Policies whose gauges moved this event-loop turn (published once, after the turn's I/O). */
  private readonly gaugesDue = new Set<string>();
  private readonly readyWaiters = new Set<() => void>();

  constructor(private readonly d: HubDeps) {
    const now = (this.now = d.now ?? Date.now);
    this.select = policySelector(d.catalog, d.log);
    this.propagation = new Propagation((ack) => {
      if (revocationAcked(d.metrics, d.log, ack)) d.onSummaryChange?.();
    });
    this.configs = new FeedTable({
      catalog: d.catalog,
      revocations: d.revocations,
      keys: d.keys,
      now,
      ...(d.signer === undefined ? {} : { signer: d.signer }),
    });
    this.updates = new ConfigUpdates({
      catalog: d.catalog,
      pods: d.pods,
      configs: this.configs,
      sessions: this.sessions,
      propagation: this.propagation,
      log: d.log,
      now,
      select: this.select,
      end: (s, reason) => this.end(s, reason),
      gauges: (policy) => this.gauges(policy),
      onFlushed: () => this.d.onSummaryChange?.(),
      closed: () => this.closed,
    });
  }

  /**
   * Streams are served once the caches are complete; before that a request may wait for it
   * (`whenReady`), else it is a 503 not_ready.
   */
  start(): void {
    this.ready = true;
    this.heartbeat = setInterval(() => this.tick(), HEARTBEAT_INTERVAL_MS);
    this.heartbeat.unref();
    this.wakeReadyWaiters();
  }

  isReady(): boolean {
    return this.ready && !this.closed;
  }

  /**
   * True once streams are served, false after `ms` or when the hub closes first. An operator
   * that just started (every replica was down) holds the sidecars' first attempts this way
   * instead of sending each away for a second or two of Retry-After: they are served the
   * moment the caches are complete.
   */
  whenReady(ms: number): Promise<boolean> {
    if (this.ready || this.closed) return Promise.resolve(this.isReady());
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.readyWaiters.delete(done);
        resolve(this.isReady());
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      this.readyWaiters.add(done);
    });
  }

  /** Requests waiting in `whenReady`. */
  get waitingForReady(): number {
    return this.readyWaiters.size;
  }

  private wakeReadyWaiters(): void {
    for (const done of [...this.readyWaiters]) done();
  }

  /**
   * The TokenPolicy serving `pod`: the pod must exist with that uid, run as `serviceAccount` and
   * be selected in its own namespace.
   */
  resolve(pod: PodRef, serviceAccount: string): Resolved {
    if (!this.isReady())
      return { ok: false, status: 503, reason: 'not_ready', message: 'operator caches are not synced yet' };
    return resolvePod(this.d.catalog, this.d.pods, this.select, pod, serviceAccount);
  }

  /**
   * Opens a session on `policy` and sends its first message: a delta from `sinceVersion`
   * when this replica still knows that version, else a snapshot.
   */
  connect(
    pod: PodRef,
    policy: string,
    io: SessionIo,
    sinceVersion: string | undefined,
    options: SessionOptions = {},
  ): Session | Refusal {
    const state = this.configs.open(policy);
    if (state === undefined) {
      const problem = this.configs.problem(policy);
      return {
        status: 503,
        reason: 'not_ready',
        message: `TokenPolicy ${policy} has no valid config yet: ${problem}`,
      };
    }
    const session = this.sessions.open(pod, policy, io, this.now(), options);
    const change = sinceVersion === undefined ? undefined : state.changeFrom(sinceVersion);
    if (change !== undefined) sendChange(session, state, change);
    else sendSnapshot(session, state);
    this.d.log.info(
      {
        session: session.id,
        pod: `${pod.namespace}/${pod.name}`,
        policy,
        version: state.version,
        resumed: change !== undefined,
      },
      'sidecar connected',
    );
    this.gauges(policy);
    return session;
  }

  /** The route saw the response end (client gone, or we ended it). */
  disconnected(id: string, reason: CloseReason): void {
    const s = this.sessions.remove(id);
    if (s === undefined) return;
    this.propagation.sessionGone(s, this.now());
    this.d.log.info(
      { session: id, pod: `${s.pod.namespace}/${s.pod.name}`, policy: s.policy, reason },
      'sidecar disconnected',
    );
    this.gauges(s.policy);
  }

  /**
   * An ack whose sender the route authenticated. It counts only when it names exactly a
   * (generation, version) pair this session was sent (sent.ts): a version string alone, or a
   * generation with another version's hash, never marks a sidecar in sync.
   */
  ack(req: AckRequest): 'ok' | 'session_gone' | 'unsent_version' {
    const sent = this.sessions.get(req.session);
    if (sent === undefined) return 'session_gone';
    if (!wasSent(sent, this.configs.get(sent.policy), req.generation, req.version)) return 'unsent_version';
    const outcome = this.sessions.ack(req.session, req.generation, req.version, this.now());
    if (outcome !== 'ok') return outcome === 'unknown_session' ? 'session_gone' : 'unsent_version';
    const s = this.sessions.get(req.session);
    if (s !== undefined) {
      this.propagation.acked(s, this.now());
      this.gauges(s.policy);
    }
    return 'ok';
  }

  /** An unknown kid on a sidecar: refetch (throttled); new keys arrive through `keysRefreshed`. */
  async refreshKeys(
    req: KeysRefreshRequest,
  ): Promise<'ok' | 'session_gone' | 'unknown_issuer' | 'throttled'> {
    const s = this.sessions.get(req.session);
    if (s === undefined) return 'session_gone';
    if (!this.configs.trusts(s.policy, req.issuer)) return 'unknown_issuer';
    const fetched = await this.d.keys.refreshOnDemand(s.policy, req.issuer);
    // The fetch's onRefresh already marked the policies dirty; flush now, not next turn.
    this.updates.keysRefreshed(req.issuer);
    return fetched ? 'ok' : 'throttled';
  }

  // ---- status ----

  policySummary(): Map<string, PolicySummary> {
    const out = new Map<string, PolicySummary>();
    for (const key of this.sessions.policies()) {
      const version = this.configs.get(key)?.version;
      out.set(key, { version: version ?? '', ...this.sessions.counts(key, version) });
    }
    return out;
  }

  revocationSummary(): Map<string, RevocationAck> {
    return this.propagation.summary();
  }

  /** Ends every session (graceful shutdown: sidecars reconnect to another replica). */
  close(): void {
    this.closed = true;
    clearInterval(this.heartbeat);
    this.wakeReadyWaiters();
    for (const s of this.sessions.all()) this.end(s, 'shutdown');
  }

  // ---- internals ----

  private end(s: Session, reason: CloseReason): void {
    if (reason !== 'shutdown' && reason !== 'client_closed') this.d.metrics?.streamErrors.inc({ reason });
    s.io.end(reason);
    this.disconnected(s.id, reason);
  }

  private tick(): void {
    const now = this.now();
    for (const s of this.sessions.silent(now, PEER_TIMEOUT_MS)) {
      this.d.log.warn(
        { session: s.id, pod: `${s.pod.namespace}/${s.pod.name}` },
        'no ack for 15 s; closing session',
      );
      this.end(s, 'ack_timeout');
    }
    const line = heartbeatLine(now);
    for (const s of this.sessions.all()) {
      if (!s.wroteSinceTick) s.io.write(line);
      s.wroteSinceTick = false;
    }
  }

  /**
   * The gauges of `policy` and the summary moved. A push to a thousand sessions brings a
   * thousand acks, most of them read in the same turn: they are published once, after it.
   */
  private gauges(policy: string): void {
    if (this.gaugesDue.size === 0) setImmediate(() => this.publishGauges());
    this.gaugesDue.add(policy);
  }

  private publishGauges(): void {
    for (const policy of this.gaugesDue)
      publishSidecarCounts(
        this.d.metrics,
        policy,
        this.sessions.counts(policy, this.configs.get(policy)?.version),
      );
    this.gaugesDue.clear();
    this.d.onSummaryChange?.();
  }
}
