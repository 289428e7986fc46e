/**
 * The Lease loop: every retry period, read the Lease and act on `decideLease` (lease.ts).
 * Writes are optimistic (resourceVersion), so two replicas racing for an expired lease cannot
 * both win: the loser gets 409 and keeps following. All I/O is here; every decision is not.
 */
import { ApiException, V1MicroTime, type CoordinationV1Api, type V1Lease } from '@kubernetes/client-node';
import type { Logger } from '../../log/logger.js';
import { apiMessage, apiStatus } from './k8s.js';
import {
  decideLease,
  leaderTimings,
  observe,
  stillLeading,
  type LeaderTimings,
  type LeaseView,
  type Observation,
} from './lease.js';
import { withJitter } from './backoff.js';

export interface ElectorOptions {
  readonly api: CoordinationV1Api;
  readonly namespace: string;
  readonly name: string;
  readonly identity: string;
  readonly leaseDurationSeconds: number;
  readonly log: Logger;
  /** Called when this replica becomes leader, and when it stops being leader. */
  readonly onChange: (leading: boolean) => void;
  readonly now?: () => number;
}

function view(lease: V1Lease): LeaseView {
  const spec = lease.spec ?? {};
  const renew: unknown = spec.renewTime;
  return {
    holder: spec.holderIdentity ?? '',
    durationSeconds: spec.leaseDurationSeconds ?? 15,
    // client-node 1.x types MicroTime as a Date but hands back the raw string: take either.
    renewTime: renew instanceof Date ? renew.toISOString() : typeof renew === 'string' ? renew : '',
    transitions: spec.leaseTransitions ?? 0,
  };
}

export class LeaderElector {
  private readonly timings: LeaderTimings;
  private readonly now: () => number;
  private observed: Observation | undefined;
  private lastRenewAt: number | undefined;
  private leading = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  private running: Promise<void> = Promise.resolve();
  private held: V1Lease | undefined;

  constructor(private readonly options: ElectorOptions) {
    this.timings = leaderTimings(options.leaseDurationSeconds);
    this.now = options.now ?? Date.now;
  }

  /** True while this replica holds the lease and renewed it within the renew deadline. */
  isLeader(): boolean {
    return stillLeading(this.lastRenewAt, this.now(), this.timings);
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Stops the loop and, if leading, releases the lease so another replica takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    const held = this.held;
    if (held !== undefined && this.isLeader()) {
      const released: V1Lease = {
        ...held,
        spec: {
          ...held.spec,
          holderIdentity: '',
          leaseDurationSeconds: 1,
          renewTime: new V1MicroTime(this.now()),
        },
      };
      try {
        await this.options.api.replaceNamespacedLease({
          namespace: this.options.namespace,
          name: this.options.name,
          body: released,
        });
        this.options.log.info({ lease: this.options.name }, 'leader lease released');
      } catch (err) {
        this.options.log.warn({ err: apiMessage(err) }, 'could not release the leader lease');
      }
    }
    this.lastRenewAt = undefined;
    this.held = undefined;
    this.setLeading(false);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick().finally(() => this.schedule(withJitter(this.timings.retryMs)));
    }, ms);
  }

  private async tick(): Promise<void> {
    const startedAt = this.now();
    try {
      await this.tryAcquireOrRenew(startedAt);
    } catch (err) {
      this.options.log.debug({ err: apiMessage(err), status: apiStatus(err) }, 'lease update failed');
    }
    this.setLeading(this.isLeader());
  }

  private async tryAcquireOrRenew(startedAt: number): Promise<void> {
    const { api, namespace, name, identity } = this.options;
    let current: V1Lease | undefined;
    try {
      current = await api.readNamespacedLease({ namespace, name });
    } catch (err) {
      if (!(err instanceof ApiException && err.code === 404)) throw err;
    }
    const lease = current === undefined ? undefined : view(current);
    if (lease !== undefined) this.observed = observe(this.observed, lease, startedAt);
    const decision = decideLease(lease, identity, this.observed, startedAt);
    if (decision.action === 'wait') {
      this.held = undefined;
      this.lastRenewAt = undefined;
      return;
    }
    const stamp = new V1MicroTime(startedAt);
    const duration = this.options.leaseDurationSeconds;
    if (decision.action === 'create' || current === undefined) {
      const body: V1Lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name, namespace },
        spec: {
          holderIdentity: identity,
          leaseDurationSeconds: duration,
          acquireTime: stamp,
          renewTime: stamp,
          leaseTransitions: 0,
        },
      };
      this.held = await api.createNamespacedLease({ namespace, body });
    } else {
      const spec =
        decision.action === 'renew'
          ? { ...current.spec, leaseDurationSeconds: duration, renewTime: stamp }
          : {
              holderIdentity: identity,
              leaseDurationSeconds: duration,
              acquireTime: stamp,
              renewTime: stamp,
              leaseTransitions: decision.transitions,
            };
      // resourceVersion from the read: a concurrent writer makes this fail with 409.
      this.held = await api.replaceNamespacedLease({ namespace, name, body: { ...current, spec } });
    }
    this.lastRenewAt = startedAt;
    if (decision.action !== 'renew')
      this.options.log.info({ lease: name, identity }, 'leader lease acquired');
  }

  private setLeading(leading: boolean): void {
    if (leading === this.leading) return;
    this.leading = leading;
    this.options.log.info(
      { identity: this.options.identity, leading },
      leading ? 'started leading' : 'stopped leading',
    );
    this.options.onChange(leading);
  }
}
