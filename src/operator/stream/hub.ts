/**
 * The config stream's state on one replica: a PolicyConfig per TokenPolicy that has sidecars,
 * built from the informer caches; the open sessions; what each acknowledged. Informer events
 * mark policies dirty; one flush per event-loop turn (setImmediate, no debounce) rebuilds them
 * and pushes a delta to every session of a policy whose version moved. Heartbeats go out every
 * 5 s; a session silent for 15 s is closed.
 *
 * Invariants: a session only ever receives its own pod's policy (chosen by `resolve` from the
 * pod's namespace alone); `generation` on a session only grows; a policy whose spec turns
 * invalid keeps serving its last valid config (fail-static, as a bad policy file does).
 */
import type { ObjectCache, V1Pod } from '@kubernetes/client-node';
import {
  HEARTBEAT_INTERVAL_MS,
  PEER_TIMEOUT_MS,
  type AckRequest,
  type KeysRefreshRequest,
  type StreamConfig,
  type StreamRefusal,
} from '../../distribution/protocol.js';
import type { Logger } from '../../log/logger.js';
import type { OperatorMetrics } from '../../metrics/operator.js';
import { API_VERSION, type TokenPolicy, type TokenRevocation } from '../../policy/types.js';
import { validatePolicy, validateRevocation } from '../../policy/validate.js';
import { isExpired } from '../../revocation/rule.js';
import type { RawObject } from '../runtime/informers.js';
import type { SharedKeys } from '../policy/keys.js';
import { isLivePod, matchesSelector } from '../policy/selector.js';
import { PolicyConfig, type ConfigChange } from './config-state.js';
import { Propagation, type RevocationAck } from './propagation.js';
import { SessionTable, type CloseReason, type PodRef, type Session, type SessionIo } from './sessions.js';

export interface HubDeps {
  readonly policies: ObjectCache<RawObject>;
  /** Pods by namespace/name (the scoped pod informers). */
  readonly pods: Pick<ObjectCache<V1Pod>, 'get'>;
  /** The TokenRevocation informer's cache (validated here, each object once). */
  readonly revocations: ObjectCache<RawObject>;
  readonly keys: SharedKeys;
  readonly log: Logger;
  readonly metrics?: OperatorMetrics;
  readonly now?: () => number;
  /** Called (coalesced) whenever what `summary()` returns may have changed. */
  readonly onSummaryChange?: () => void;
}

export type Refusal = StreamRefusal & { readonly status: number };

export type Resolved = { readonly ok: true; readonly policy: string } | ({ readonly ok: false } & Refusal);

export interface PolicySummary {
  readonly version: string;
  readonly connected: number;
  readonly synced: number;
}

const splitKey = (key: string): [string, string] => {
  const i = key.indexOf('/');
  return [key.slice(0, i), key.slice(i + 1)];
};

/** The parts of a TokenPolicy a sidecar gets: identity, generation and the validated spec. */
function wirePolicy(p: TokenPolicy): TokenPolicy {
  return {
    apiVersion: API_VERSION,
    kind: 'TokenPolicy',
    metadata: {
      name: p.metadata.name,
      ...(p.metadata.namespace === undefined ? {} : { namespace: p.metadata.namespace }),
      ...(p.metadata.generation === undefined ? {} : { generation: p.metadata.generation }),
    },
    spec: p.spec,
  };
}

/** Each informer object is validated once; invalid ones are never served. */
const validatedRevocations = new WeakMap<object, TokenRevocation | null>();
function validRevocation(obj: RawObject): TokenRevocation | undefined {
  let v = validatedRevocations.get(obj);
  if (v === undefined) {
    const r = validateRevocation(obj);
    v = r.ok ? wireRevocation(r.value) : null;
    validatedRevocations.set(obj, v);
  }
  return v ?? undefined;
}

/** Same object in, same object out: config-state.ts hashes each revocation object once. */
const wireRevocations = new WeakMap<TokenRevocation, TokenRevocation>();
function wireRevocation(r: TokenRevocation): TokenRevocation {
  let w = wireRevocations.get(r);
  if (w === undefined) {
    w = {
      apiVersion: API_VERSION,
      kind: 'TokenRevocation',
      metadata: {
        name: r.metadata.name,
        ...(r.metadata.namespace === undefined ? {} : { namespace: r.metadata.namespace }),
      },
      spec: r.spec,
    };
    wireRevocations.set(r, w);
  }
  return w;
}

export class StreamHub {
  readonly sessions = new SessionTable();
  private readonly states = new Map<string, PolicyConfig>();
  /** Last valid policy per key, by uid/generation, so pods churning never revalidate. */
  private readonly validated = new Map<
    string,
    { stamp: string; policy: TokenPolicy | undefined; problem: string }
  >();
  private readonly dirty = new Set<string>();
  private flushScheduled = false;
  private heartbeat: NodeJS.Timeout | undefined;
  private readonly propagation: Propagation;
  private readonly now: () => number;
  private ready = false;
  private closed = false;

  constructor(private readonly d: HubDeps) {
    this.now = d.now ?? Date.now;
    this.propagation = new Propagation((ack) => this.onRevocationAcked(ack));
  }

  /** Streams are served once the caches are complete; before that: 503 not_ready. */
  start(): void {
    this.ready = true;
    this.heartbeat = setInterval(() => this.tick(), HEARTBEAT_INTERVAL_MS);
    this.heartbeat.unref();
  }

  isReady(): boolean {
    return this.ready && !this.closed;
  }

  /** The TokenPolicy serving `pod`: the pod must exist with that uid and be selected in its own namespace. */
  resolve(pod: PodRef): Resolved {
    if (!this.isReady())
      return { ok: false, status: 503, reason: 'not_ready', message: 'operator caches are not synced yet' };
    // Pods are only watched where policies are: a namespace without one has nothing to serve.
    if (this.d.policies.list(pod.namespace).length === 0)
      return {
        ok: false,
        status: 404,
        reason: 'no_policy',
        message: `no TokenPolicy in namespace ${pod.namespace} selects pod ${pod.name}`,
      };
    const live = this.d.pods.get(pod.name, pod.namespace);
    if (live === undefined || live.metadata?.uid !== pod.uid || !isLivePod(live))
      return {
        ok: false,
        status: 403,
        reason: 'pod_not_found',
        message: `pod ${pod.namespace}/${pod.name} (uid ${pod.uid}) does not exist or is terminating`,
      };
    const policy = this.selectPolicy(pod.namespace, live.metadata?.labels);
    if (policy === undefined)
      return {
        ok: false,
        status: 404,
        reason: 'no_policy',
        message: `no TokenPolicy in namespace ${pod.namespace} selects pod ${pod.name}`,
      };
    return { ok: true, policy };
  }

  /**
   * Opens a session on `policy` and sends its first message: a delta from `sinceVersion`
   * when this replica still knows that version, else a snapshot.
   */
  connect(pod: PodRef, policy: string, io: SessionIo, sinceVersion: string | undefined): Session | Refusal {
    const state = this.stateFor(policy);
    if (state === undefined) {
      const problem = this.validated.get(policy)?.problem ?? 'not valid';
      return {
        status: 503,
        reason: 'not_ready',
        message: `TokenPolicy ${policy} has no valid config yet: ${problem}`,
      };
    }
    const session = this.sessions.open(pod, policy, io, this.now());
    const change = sinceVersion === undefined ? undefined : state.changeFrom(sinceVersion);
    if (change !== undefined) this.sendChange(session, state, change);
    else this.sendSnapshot(session, state);
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

  ack(req: AckRequest): 'ok' | 'session_gone' | 'bad_generation' {
    const outcome = this.sessions.ack(req.session, req.generation, req.version, this.now());
    if (outcome === 'unknown_session') return 'session_gone';
    if (outcome === 'future_generation') return 'bad_generation';
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
    const issuers = this.states.get(s.policy)?.snapshot().policy.spec.issuers ?? [];
    if (!issuers.some((i) => i.issuer === req.issuer)) return 'unknown_issuer';
    const fetched = await this.d.keys.refreshOnDemand(s.policy, req.issuer);
    // The fetch's onRefresh already marked the policies dirty; flush now, not next turn.
    this.markIssuer(req.issuer);
    return fetched ? 'ok' : 'throttled';
  }

  // ---- informer events (handlers never do work: they mark and schedule) ----

  policyChanged(namespace: string, name: string): void {
    this.mark(`${namespace}/${name}`);
  }

  revocationChanged(deleted: boolean, obj: RawObject, policyName: string | undefined): void {
    const namespace = obj.metadata?.namespace ?? '';
    const name = obj.metadata?.name ?? '';
    const targets =
      policyName !== undefined
        ? [`${namespace}/${policyName}`]
        : [...this.states.keys()].filter((k) => k.startsWith(`${namespace}/`));
    if (deleted) this.propagation.forget(`${namespace}/${name}`);
    else
      this.propagation.observed(
        `${namespace}/${name}`,
        obj.metadata?.generation ?? 0,
        obj.metadata?.uid ?? '',
        targets,
        this.now(),
      );
    // Every policy of the namespace is looked at again: the revocation may have named another
    // policy before this change. Versions that do not move push nothing.
    for (const k of this.states.keys()) if (k.startsWith(`${namespace}/`)) this.mark(k);
    this.schedule();
  }

  podChanged(deleted: boolean, pod: V1Pod): void {
    const namespace = pod.metadata?.namespace ?? '';
    const name = pod.metadata?.name ?? '';
    for (const s of this.sessions.forPod(namespace, name)) {
      if (deleted || pod.metadata?.uid !== s.pod.uid || !isLivePod(pod)) this.end(s, 'pod_gone');
      else if (this.selectPolicy(namespace, pod.metadata?.labels) !== s.policy) this.end(s, 'not_selected');
    }
  }

  keysRefreshed(issuer: string): void {
    this.markIssuer(issuer);
  }

  // ---- status ----

  policySummary(): Map<string, PolicySummary> {
    const out = new Map<string, PolicySummary>();
    for (const key of this.sessions.policies()) {
      const state = this.states.get(key);
      const c = this.sessions.counts(key, state?.version);
      out.set(key, { version: state?.version ?? '', ...c });
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
    for (const s of this.sessions.all()) this.end(s, 'shutdown');
  }

  // ---- internals ----

  private end(s: Session, reason: CloseReason): void {
    if (reason !== 'shutdown' && reason !== 'client_closed') this.d.metrics?.streamErrors.inc({ reason });
    s.io.end(reason);
    this.disconnected(s.id, reason);
  }

  private selectPolicy(namespace: string, labels: Record<string, string> | undefined): string | undefined {
    // Namespace-local by construction: only this namespace's policies are ever looked at.
    const matching = this.d.policies
      .list(namespace)
      .filter((p) => matchesSelector((p.spec as { selector?: never } | undefined)?.selector, labels))
      .map((p) => p.metadata?.name ?? '')
      .sort();
    if (matching.length > 1)
      this.d.log.warn(
        { namespace, policies: matching },
        'several TokenPolicies select one pod; serving the first by name',
      );
    return matching[0] === undefined ? undefined : `${namespace}/${matching[0]}`;
  }

  private markIssuer(issuer: string): void {
    for (const [key, state] of this.states)
      if (state.snapshot().policy.spec.issuers.some((i) => i.issuer === issuer)) this.mark(key);
  }

  private mark(key: string): void {
    this.dirty.add(key);
    this.schedule();
  }

  private schedule(): void {
    if (this.flushScheduled || this.closed) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /** Rebuilds every dirty policy that sidecars use and pushes what changed. */
  flush(): void {
    const keys = [...this.dirty];
    this.dirty.clear();
    for (const key of keys) {
      const state = this.states.get(key);
      if (state === undefined) continue; // nobody connected for it: built on first connect
      const [namespace, name] = splitKey(key);
      if (this.d.policies.get(name, namespace) === undefined) {
        for (const s of this.sessions.forPolicy(key)) this.end(s, 'policy_gone');
        this.states.delete(key);
        this.validated.delete(key);
        continue;
      }
      const config = this.build(key);
      if (config !== undefined) {
        const change = state.update(config);
        if (change !== undefined) {
          for (const s of this.sessions.forPolicy(key)) this.sendChange(s, state, change);
          this.d.log.debug(
            { policy: key, version: change.version, sessions: this.sessions.forPolicy(key).length },
            'config pushed',
          );
        }
      }
      this.propagation.built(key, state.seq, this.sessions.forPolicy(key));
      // A selector edit may have moved pods off this policy.
      for (const s of this.sessions.forPolicy(key)) {
        const pod = this.d.pods.get(s.pod.name, s.pod.namespace);
        if (this.selectPolicy(s.pod.namespace, pod?.metadata?.labels) !== key) this.end(s, 'not_selected');
      }
      this.gauges(key);
    }
    this.propagation.settle(this.now());
    this.d.onSummaryChange?.();
  }

  private stateFor(key: string): PolicyConfig | undefined {
    let state = this.states.get(key);
    if (state !== undefined) return state;
    const config = this.build(key);
    if (config === undefined) return undefined;
    state = new PolicyConfig(config);
    this.states.set(key, state);
    return state;
  }

  /** The config of `key` from the caches now; undefined when the policy never validated. */
  private build(key: string): StreamConfig | undefined {
    const [namespace, name] = splitKey(key);
    const obj = this.d.policies.get(name, namespace);
    const stamp = `${obj?.metadata?.uid ?? ''}/${obj?.metadata?.generation ?? ''}`;
    let v = this.validated.get(key);
    if (obj !== undefined && v?.stamp !== stamp) {
      const r = validatePolicy(obj, { standalone: false });
      if (r.ok) v = { stamp, policy: wirePolicy(r.value), problem: '' };
      else {
        const problem = r.errors.map((e) => `${e.field}: ${e.message}`).join('; ');
        // Keep the last valid policy: a bad edit never loosens what sidecars enforce.
        v = { stamp, policy: v?.policy, problem };
        this.d.log.warn({ policy: key, problem }, 'policy invalid; sidecars keep its last valid config');
      }
      this.validated.set(key, v);
    }
    if (v?.policy === undefined) return undefined;
    return {
      policy: v.policy,
      keys: this.d.keys.keysFor(key),
      revocations: this.revocationsFor(namespace, name),
    };
  }

  /**
   * Unexpired valid revocations that apply to the policy (naming it, or naming none), read from
   * the informer cache: the stream does not wait for a reconcile to learn of a write.
   */
  private revocationsFor(namespace: string, policyName: string): TokenRevocation[] {
    const now = this.now();
    const out: TokenRevocation[] = [];
    for (const obj of this.d.revocations.list(namespace)) {
      const rev = validRevocation(obj);
      if (rev === undefined || isExpired(rev, now)) continue;
      if (rev.spec.policyName !== undefined && rev.spec.policyName !== policyName) continue;
      out.push(rev);
    }
    return out;
  }

  private sendSnapshot(s: Session, state: PolicyConfig): void {
    s.sentGeneration = state.seq;
    s.sentVersion = state.version;
    s.io.write(
      `{"type":"snapshot","session":${JSON.stringify(s.id)},"generation":${state.seq},"version":${JSON.stringify(
        state.version,
      )},"config":${JSON.stringify(state.snapshot())}}\n`,
    );
  }

  private sendChange(s: Session, state: PolicyConfig, change: ConfigChange): void {
    if (s.sentVersion !== '' && s.sentVersion !== change.base) {
      // This session is not at the delta's base (it missed one): give it everything.
      this.sendSnapshot(s, state);
      return;
    }
    s.sentGeneration = state.seq;
    s.sentVersion = change.version;
    s.io.write(`${JSON.stringify({ type: 'delta', session: s.id, generation: state.seq, ...change })}\n`);
  }

  private tick(): void {
    const now = this.now();
    const line = `{"type":"heartbeat","at":${now}}\n`;
    for (const s of this.sessions.silent(now, PEER_TIMEOUT_MS)) {
      this.d.log.warn(
        { session: s.id, pod: `${s.pod.namespace}/${s.pod.name}` },
        'no ack for 15 s; closing session',
      );
      this.end(s, 'ack_timeout');
    }
    for (const s of this.sessions.all()) s.io.write(line);
  }

  private gauges(policy: string): void {
    const m = this.d.metrics;
    const c = this.sessions.counts(policy, this.states.get(policy)?.version);
    if (m !== undefined) {
      if (c.connected === 0) {
        m.connectedSidecars.remove({ policy });
        m.syncedSidecars.remove({ policy });
      } else {
        m.connectedSidecars.set({ policy }, c.connected);
        m.syncedSidecars.set({ policy }, c.synced);
      }
    }
    this.d.onSummaryChange?.();
  }

  private onRevocationAcked(ack: RevocationAck & { key: string }): void {
    if (ack.ackedAt === undefined) return;
    const seconds = (ack.ackedAt - ack.observedAt) / 1000;
    this.d.metrics?.propagation.observe(seconds);
    this.d.log.info(
      { revocation: ack.key, sidecars: ack.sidecars, seconds },
      'revocation acknowledged by every sidecar',
    );
    this.d.onSummaryChange?.();
  }
}
