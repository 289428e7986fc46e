/**
 * From informer events to pushed configs. Event handlers never do work: they mark policies
 * dirty and schedule one flush per event-loop turn (setImmediate, no debounce), which rebuilds
 * every dirty policy that sidecars use and pushes a delta to each session of a policy whose
 * version moved. Sessions whose pod is gone or no longer selected by their policy are ended.
 */
import type { ObjectCache, V1Pod } from '@kubernetes/client-node';
import type { Logger } from '../../log/logger.js';
import type { RawObject } from '../runtime/informers.js';
import { splitKey } from '../runtime/k8s.js';
import { isLivePod } from '../policy/selector.js';
import type { PolicyCatalog } from '../policy/catalog.js';
import type { FeedTable } from './feeds.js';
import type { Propagation } from './propagation.js';
import type { SelectPolicy } from './resolve.js';
import { sendChange } from './send.js';
import type { CloseReason, Session, SessionTable } from './sessions.js';

export interface UpdateDeps {
  readonly catalog: PolicyCatalog;
  readonly pods: Pick<ObjectCache<V1Pod>, 'get'>;
  readonly configs: FeedTable;
  readonly sessions: SessionTable;
  readonly propagation: Propagation;
  readonly log: Logger;
  readonly now: () => number;
  /** The policy serving a pod with these labels (the catalog's answer, conflicts logged). */
  readonly select: SelectPolicy;
  readonly end: (s: Session, reason: CloseReason) => void;
  readonly gauges: (policy: string) => void;
  readonly onFlushed: () => void;
  readonly closed: () => boolean;
}

export class ConfigUpdates {
  private readonly dirty = new Set<string>();
  /**
   * Namespaces where a TokenPolicy changed since the last flush: only there may a session's pod
   * now be served another policy (its own policy's selector, or a rival's, moved). A revocation
   * alone never moves a pod, so its flush does not look at every session's labels again.
   */
  private readonly reselect = new Set<string>();
  /** Per policy, the `metadata.generation` last seen: a status write moves no selector. */
  private readonly generations = new Map<string, number>();
  private flushScheduled = false;

  constructor(private readonly d: UpdateDeps) {}

  /** A TokenPolicy event; `generation` undefined when it was deleted. */
  policyChanged(namespace: string, name: string, generation?: number): void {
    const key = `${namespace}/${name}`;
    const moved = generation === undefined || this.generations.get(key) !== generation;
    if (generation === undefined) this.generations.delete(key);
    else this.generations.set(key, generation);
    if (moved) {
      this.reselect.add(namespace);
      // A rival policy of the namespace may now select (or stop selecting) their pods too.
      for (const k of this.d.configs.keys()) if (k.startsWith(`${namespace}/`)) this.dirty.add(k);
    }
    this.mark(key);
  }

  revocationChanged(deleted: boolean, obj: RawObject, policyName: string | undefined): void {
    const namespace = obj.metadata?.namespace ?? '';
    const name = obj.metadata?.name ?? '';
    const held = [...this.d.configs.keys()].filter((k) => k.startsWith(`${namespace}/`));
    const targets = policyName !== undefined ? [`${namespace}/${policyName}`] : held;
    if (deleted) this.d.propagation.forget(`${namespace}/${name}`);
    else
      this.d.propagation.observed(
        `${namespace}/${name}`,
        obj.metadata?.generation ?? 0,
        obj.metadata?.uid ?? '',
        targets,
        this.d.now(),
      );
    // Every policy of the namespace is looked at again: the revocation may have named another
    // policy before this change. Versions that do not move push nothing.
    for (const k of held) this.mark(k);
    this.schedule();
  }

  podChanged(deleted: boolean, pod: V1Pod): void {
    const namespace = pod.metadata?.namespace ?? '';
    const name = pod.metadata?.name ?? '';
    for (const s of this.d.sessions.forPod(namespace, name)) {
      if (deleted || pod.metadata?.uid !== s.pod.uid || !isLivePod(pod)) this.d.end(s, 'pod_gone');
      else if (this.d.select(namespace, pod.metadata?.labels) !== s.policy) this.d.end(s, 'not_selected');
    }
  }

  /** New keys of `issuer` (a refresh, or a sidecar's unknown kid): every policy trusting it. */
  keysRefreshed(issuer: string): void {
    for (const key of this.d.configs.withIssuer(issuer)) this.mark(key);
  }

  private mark(key: string): void {
    this.dirty.add(key);
    this.schedule();
  }

  private schedule(): void {
    if (this.flushScheduled || this.d.closed()) return;
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
    const reselect = new Set(this.reselect);
    this.reselect.clear();
    for (const key of keys) this.flushOne(key, reselect.has(splitKey(key)[0]));
    this.d.propagation.settle(this.d.now());
    this.d.onFlushed();
  }

  private flushOne(key: string, reselect: boolean): void {
    const { configs, sessions } = this.d;
    const state = configs.get(key);
    if (state === undefined) return; // nobody connected for it: built on first connect
    if (this.d.catalog.get(...splitKey(key)) === undefined) {
      for (const s of sessions.forPolicy(key)) this.d.end(s, 'policy_gone');
      configs.drop(key);
      return;
    }
    const change = configs.rebuild(state, key);
    const serving = sessions.forPolicy(key);
    if (change !== undefined) {
      for (const s of serving) sendChange(s, state, change);
      this.d.log.debug({ policy: key, version: change.version, sessions: serving.length }, 'config pushed');
    }
    this.d.propagation.built(key, state.seq, serving);
    // A policy edit in the namespace may have moved pods off this policy.
    if (reselect)
      for (const s of serving) {
        const pod = this.d.pods.get(s.pod.name, s.pod.namespace);
        if (this.d.select(s.pod.namespace, pod?.metadata?.labels) !== key) this.d.end(s, 'not_selected');
      }
    this.d.gauges(key);
  }
}
