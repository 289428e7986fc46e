/**
 * One pushed event, start to end, without HTTP (routes.ts maps the outcome to each protocol's
 * answer): find the policy → admission (per sender address and overall, before any signature
 * is checked, so unsigned garbage cannot buy CPU) → verify (verify.ts) → replay memory → rate
 * limit per issuer → build the TokenRevocation (revocation.ts) → create it. Every path ends in one place that counts the
 * outcome in tokenwarden_operator_receiver_events_total and logs it with the token's
 * fingerprint, never the token.
 *
 * Success is only ever answered once the revocation exists in the API server (created now, or
 * already there): an identity provider told "done" can rely on it.
 */
import type { KeyResolver } from '../../keys/types.js';
import type { Logger } from '../../log/logger.js';
import type { OperatorMetrics, ReceiverKind, ReceiverOutcome } from '../../metrics/operator.js';
import type { CompiledPolicy } from '../../policy/types.js';
import { fingerprint, wholeTokenSha256 } from '../../token/hash.js';
import { RateLimiter, type RateOptions } from './rate.js';
import { ReplayMemory } from './replay.js';
import { buildRevocation, type EventRevocation } from './revocation.js';
import { verifyEvent } from './verify.js';

export interface ReceiverDeps {
  /** The validated, compiled policy `namespace/name`, or undefined (absent or invalid). */
  readonly policy: (namespace: string, name: string) => CompiledPolicy | undefined;
  /** The keys this replica holds for `issuer` under the policy (`namespace/name`). */
  readonly keys: (policyKey: string, issuer: string) => KeyResolver | undefined;
  /** Creates the object; 'exists' when one of that name is already there. Throws on failure. */
  readonly create: (revocation: EventRevocation) => Promise<'created' | 'exists'>;
  readonly metrics: OperatorMetrics;
  readonly log: Logger;
  /** Epoch milliseconds. */
  readonly now?: () => number;
  /** Oldest accepted `iat`, seconds before now (default 300). */
  readonly maxAgeSeconds?: number;
  /** Revocations per policy + issuer, after verification. */
  readonly rate?: RateOptions;
  /** Events per sender address, before verification. */
  readonly perPeer?: RateOptions;
  /** Events over all senders, before verification. */
  readonly overall?: RateOptions;
  /** Replay memory entries (default 10,000). */
  readonly replayEntries?: number;
}

export interface Outcome {
  readonly outcome: ReceiverOutcome;
  readonly description: string;
  /** The revocation's name, when one exists for the event. */
  readonly revocation?: string;
}

export const DEFAULT_RATE: RateOptions = Object.freeze({ perSecond: 10, burst: 50, maxKeys: 1024 });
/** An identity provider sends a few events a second; a sender at 20/s is flooding. */
export const DEFAULT_PER_PEER: RateOptions = Object.freeze({ perSecond: 20, burst: 100, maxKeys: 4096 });
/** Bounds signature checks (about 0.1 ms each) to a small share of one core whoever sends. */
export const DEFAULT_OVERALL: RateOptions = Object.freeze({ perSecond: 500, burst: 1000, maxKeys: 1 });

export class EventReceiver {
  private readonly replay: ReplayMemory;
  private readonly rate: RateLimiter;
  private readonly perPeer: RateLimiter;
  private readonly overall: RateLimiter;
  private readonly now: () => number;
  private readonly maxAge: number;

  constructor(private readonly d: ReceiverDeps) {
    this.replay = new ReplayMemory(d.replayEntries ?? 10_000);
    this.rate = new RateLimiter(d.rate ?? DEFAULT_RATE);
    this.perPeer = new RateLimiter(d.perPeer ?? DEFAULT_PER_PEER);
    this.overall = new RateLimiter(d.overall ?? DEFAULT_OVERALL);
    this.now = d.now ?? Date.now;
    this.maxAge = d.maxAgeSeconds ?? 300;
  }

  /** `peer` is the sender's address (the TCP peer; the receivers are not behind a proxy). */
  async receive(
    kind: ReceiverKind,
    namespace: string,
    policyName: string,
    token: string,
    peer: string,
  ): Promise<Outcome> {
    return this.count(
      kind,
      namespace,
      policyName,
      await this.decide(kind, namespace, policyName, token, peer),
      token,
    );
  }

  /** Takes from the sender's bucket, then the overall one; false → 429 before any verification. */
  private admit(peer: string, nowMs: number): boolean {
    return this.perPeer.take(peer, nowMs) && this.overall.take('', nowMs);
  }

  /** The one exit: counts and logs `result` (with the token's fingerprint, when there is a token). */
  count(kind: ReceiverKind, namespace: string, policyName: string, result: Outcome, token?: string): Outcome {
    this.d.metrics.receiverEvents.inc({ receiver: kind, outcome: result.outcome });
    const fields = {
      receiver: kind,
      policy: `${namespace}/${policyName}`,
      outcome: result.outcome,
      token: token === undefined ? undefined : fingerprint(token),
      revocation: result.revocation,
      why: result.description,
    };
    if (result.outcome === 'revoked' || result.outcome === 'duplicate')
      this.d.log.info(fields, 'event received');
    else this.d.log.warn(fields, 'event refused');
    return result;
  }

  private async decide(
    kind: ReceiverKind,
    namespace: string,
    name: string,
    token: string,
    peer: string,
  ): Promise<Outcome> {
    const policy = this.d.policy(namespace, name);
    const receives =
      policy !== undefined && [...policy.issuers.values()].some((i) => i.receiver !== undefined);
    if (policy === undefined || !receives) {
      return { outcome: 'no_receiver', description: 'no valid TokenPolicy with a receiver at this address' };
    }
    const nowMs = this.now();
    if (!this.admit(peer, nowMs)) {
      return { outcome: 'rate_limited', description: 'too many events from this sender; retry later' };
    }
    const nowSeconds = Math.floor(nowMs / 1000);
    const policyKey = `${namespace}/${name}`;
    const v = await verifyEvent(token, {
      receiver: kind,
      policy,
      keys: (issuer) => this.d.keys(policyKey, issuer),
      nowSeconds,
      maxAgeSeconds: this.maxAge,
    });
    if (!v.ok) return { outcome: v.reason, description: v.description };
    const digest = wholeTokenSha256(token);
    const seen = this.replay.check(v.issuer.issuer, v.jti, digest, nowSeconds);
    const revocation = buildRevocation(
      policy,
      { issuer: v.issuer.issuer, jti: v.jti, intent: v.intent },
      nowSeconds,
    );
    const name_ = revocation.metadata.name;
    if (seen === 'replayed')
      return { outcome: 'replayed', description: 'the jti was already used by another token' };
    if (seen === 'same')
      return { outcome: 'duplicate', description: 'this event was already acted on', revocation: name_ };
    if (!this.rate.take(`${policyKey}\n${v.issuer.issuer}`, nowMs)) {
      return { outcome: 'rate_limited', description: 'too many events from this issuer; retry later' };
    }
    let created: 'created' | 'exists';
    try {
      created = await this.d.create(revocation);
    } catch (err) {
      return {
        outcome: 'write_failed',
        description: `creating the TokenRevocation failed: ${(err as Error).message}`,
      };
    }
    const until = v.iat + this.maxAge + policy.expiry.clockSkewSeconds + 1;
    this.replay.remember(v.issuer.issuer, v.jti, digest, until, nowSeconds);
    return created === 'created'
      ? { outcome: 'revoked', description: `TokenRevocation ${name_} created`, revocation: name_ }
      : { outcome: 'duplicate', description: `TokenRevocation ${name_} already exists`, revocation: name_ };
  }
}
