/**
 * Acks reach status whichever replica holds the session (ADR 0005): every replica publishes its
 * summary (summary.ts) as its own key of the ConfigMap `tokenwarden-replicas` in the operator's
 * namespace (replica-store.ts), at most twice a second when it changed and every 10 s
 * regardless (liveness). The leader reads them every second, adds its own live summary, and
 * re-queues the policies and revocations whose aggregated figures moved, so the ordinary
 * reconcilers write status. The leader removes keys stale for a minute (a replica killed
 * without its shutdown path); a replica that stops removes its own.
 */
import type { CoreV1Api } from '@kubernetes/client-node';
import type { Logger } from '../../log/logger.js';
import { apiMessage, apiStatus } from '../runtime/k8s.js';
import type { StreamHub } from './hub.js';
import { ReplicaStore } from './replica-store.js';
import { Aggregate, STALE_MS, fitSummary, makeSummary, replicaKey, type ReplicaSummary } from './summary.js';

const MIN_PUBLISH_INTERVAL_MS = 500;
const HEARTBEAT_PUBLISH_MS = 10_000;
const POLL_MS = 1_000;
/** Acks arrive in bursts; status is looked at once per burst. */
const DIFF_DELAY_MS = 100;
const DELETE_AFTER_MS = 60_000;

export interface ReplicaStatusDeps {
  readonly core: CoreV1Api;
  readonly namespace: string;
  readonly identity: string;
  readonly hub: StreamHub;
  readonly log: Logger;
  readonly isLeader: () => boolean;
  /** Aggregated figures moved for these keys (`namespace/name`): re-queue them. */
  readonly onChange: (policies: string[], revocations: string[]) => void;
  readonly now?: () => number;
}

export class ReplicaStatus {
  private readonly key: string;
  private readonly store: ReplicaStore;
  private readonly now: () => number;
  private remote: ReplicaSummary[] = [];
  private lastPublishedAt = 0;
  private lastPublished = '';
  private publishTimer: NodeJS.Timeout | undefined;
  private diffTimer: NodeJS.Timeout | undefined;
  private publishing: Promise<void> | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private poll: NodeJS.Timeout | undefined;
  private seen = new Map<string, string>();
  private stopped = false;

  constructor(private readonly d: ReplicaStatusDeps) {
    this.key = replicaKey(d.identity);
    this.store = new ReplicaStore(d.core, d.namespace);
    this.now = d.now ?? Date.now;
  }

  start(): void {
    this.heartbeat = setInterval(() => void this.publish(true), HEARTBEAT_PUBLISH_MS);
    this.heartbeat.unref();
    this.poll = setInterval(() => void this.pollRemote(), POLL_MS);
    this.poll.unref();
    this.changed();
  }

  /** The live aggregate: this replica's sessions now, the others' as last published. */
  aggregate(): Aggregate {
    return Aggregate.of([this.local(), ...this.remote], this.now());
  }

  /** The hub's figures moved: publish soon (throttled) and, when leading, re-check status. */
  changed(): void {
    if (this.stopped) return;
    if (this.publishTimer === undefined) {
      const wait = Math.max(0, this.lastPublishedAt + MIN_PUBLISH_INTERVAL_MS - this.now());
      this.publishTimer = setTimeout(() => {
        this.publishTimer = undefined;
        void this.publish(false);
      }, wait);
      this.publishTimer.unref();
    }
    if (this.diffTimer === undefined) {
      this.diffTimer = setTimeout(() => {
        this.diffTimer = undefined;
        this.diff();
      }, DIFF_DELAY_MS);
      this.diffTimer.unref();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.publishTimer);
    clearTimeout(this.diffTimer);
    clearInterval(this.heartbeat);
    clearInterval(this.poll);
    await this.publishing;
    await this.store.release(this.key).catch(() => undefined);
  }

  private local(): ReplicaSummary {
    return makeSummary(
      this.d.identity,
      this.now(),
      this.d.hub.policySummary(),
      this.d.hub.revocationSummary(),
    );
  }

  private async publish(force: boolean): Promise<void> {
    if (this.stopped || this.publishing !== undefined) return;
    const s = this.local();
    const body = JSON.stringify({ ...s, updatedAt: 0 });
    if (!force && body === this.lastPublished) return;
    this.lastPublishedAt = this.now();
    const text = fitSummary(s);
    if (text === undefined) {
      this.d.log.warn(
        { policies: Object.keys(s.policies).length },
        'replica summary too large, not published',
      );
      return;
    }
    this.publishing = this.store
      .write(this.key, text)
      .then(
        () => {
          this.lastPublished = body;
        },
        (err: unknown) =>
          this.d.log.warn({ status: apiStatus(err), err: apiMessage(err) }, 'replica summary not published'),
      )
      .finally(() => (this.publishing = undefined));
    await this.publishing;
  }

  private async pollRemote(): Promise<void> {
    if (this.stopped || !this.d.isLeader()) {
      this.remote = [];
      return;
    }
    try {
      const all = await this.store.readAll();
      const now = this.now();
      const remote: ReplicaSummary[] = [];
      for (const [key, text] of Object.entries(all)) {
        if (key === this.key || !key.endsWith('.json')) continue;
        const s = parseSummary(text);
        if (s !== undefined && now - s.updatedAt <= DELETE_AFTER_MS) {
          if (now - s.updatedAt <= STALE_MS) remote.push(s);
          continue;
        }
        this.d.log.info({ key }, 'removing stale replica summary');
        await this.store
          .removeIf(key, text)
          .catch((err: unknown) =>
            this.d.log.warn(
              { key, status: apiStatus(err), err: apiMessage(err) },
              'stale replica summary not removed',
            ),
          );
      }
      this.remote = remote;
      this.diff();
    } catch (err) {
      this.d.log.warn({ status: apiStatus(err), err: apiMessage(err) }, 'replica summaries not read');
    }
  }

  /** Leader only: re-queue the keys whose aggregated figures differ from the last look. */
  private diff(): void {
    if (!this.d.isLeader()) {
      this.seen.clear();
      return;
    }
    const agg = this.aggregate();
    const next = new Map<string, string>();
    for (const p of agg.policyKeys()) next.set(`p:${p}`, String(agg.synced(p)));
    for (const [r, state] of agg.revocationStates()) next.set(`r:${r}`, state);
    const policies: string[] = [];
    const revocations: string[] = [];
    for (const [k, v] of next) if (this.seen.get(k) !== v) pushKey(k, policies, revocations);
    for (const k of this.seen.keys()) if (!next.has(k)) pushKey(k, policies, revocations);
    this.seen = next;
    if (policies.length > 0 || revocations.length > 0) this.d.onChange(policies, revocations);
  }
}

function pushKey(k: string, policies: string[], revocations: string[]): void {
  (k.startsWith('p:') ? policies : revocations).push(k.slice(2));
}

function parseSummary(text: string | undefined): ReplicaSummary | undefined {
  if (text === undefined) return undefined;
  try {
    const v = JSON.parse(text) as ReplicaSummary;
    return typeof v.updatedAt === 'number' &&
      typeof v.policies === 'object' &&
      typeof v.revocations === 'object'
      ? v
      : undefined;
  } catch {
    return undefined;
  }
}
