/**
 * Acks reach status whichever replica holds the session (ADR 0005): every replica publishes its
 * summary (summary.ts) as a ConfigMap `tokenwarden-replica-<identity>` in the operator's
 * namespace, at most twice a second when it changed and every 10 s regardless (liveness). The
 * leader lists them every second, adds its own live summary, and re-queues the policies and
 * revocations whose aggregated figures moved, so the ordinary reconcilers write status. The
 * leader deletes summaries stale for a minute (a replica killed without its shutdown path);
 * a replica that stops deletes its own.
 */
import type { CoreV1Api, V1ConfigMap } from '@kubernetes/client-node';
import type { Logger } from '../../log/logger.js';
import { FIELD_MANAGER, apiMessage, apiStatus } from '../runtime/k8s.js';
import type { StreamHub } from './hub.js';
import { Aggregate, STALE_MS, makeSummary, replicaObjectName, type ReplicaSummary } from './summary.js';

export const SUMMARY_LABEL = 'tokenwarden.dev/replica-summary';
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
  private readonly name: string;
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
    this.name = replicaObjectName(d.identity);
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
    await this.d.core
      .deleteNamespacedConfigMap({ name: this.name, namespace: this.d.namespace })
      .catch(() => undefined);
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
    const cm: V1ConfigMap = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: this.name,
        namespace: this.d.namespace,
        labels: { [SUMMARY_LABEL]: 'true', 'app.kubernetes.io/managed-by': 'tokenwarden' },
      },
      data: { 'summary.json': JSON.stringify(s) },
    };
    const { core, namespace } = this.d;
    this.publishing = core
      .replaceNamespacedConfigMap({ name: this.name, namespace, body: cm, fieldManager: FIELD_MANAGER })
      .catch((err: unknown) => {
        if (apiStatus(err) !== 404) throw err;
        return core.createNamespacedConfigMap({ namespace, body: cm, fieldManager: FIELD_MANAGER });
      })
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
      const list = await this.d.core.listNamespacedConfigMap({
        namespace: this.d.namespace,
        labelSelector: `${SUMMARY_LABEL}=true`,
      });
      const now = this.now();
      const remote: ReplicaSummary[] = [];
      for (const cm of list.items) {
        if (cm.metadata?.name === this.name) continue;
        const s = parseSummary(cm.data?.['summary.json']);
        if (s === undefined) continue;
        if (now - s.updatedAt > DELETE_AFTER_MS) {
          this.d.log.info({ name: cm.metadata?.name }, 'deleting stale replica summary');
          await this.d.core
            .deleteNamespacedConfigMap({ name: cm.metadata?.name ?? '', namespace: this.d.namespace })
            .catch(() => undefined);
          continue;
        }
        if (now - s.updatedAt <= STALE_MS) remote.push(s);
      }
      this.remote = remote;
      this.diff();
    } catch (err) {
      this.d.log.warn({ status: apiStatus(err), err: apiMessage(err) }, 'replica summaries not listed');
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
