/**
 * What the sidecar enforces (one compiled policy and its revocations), swapped atomically as one
 * `Enforcement` snapshot: a request reads `active` once and runs to the end against that
 * snapshot, so a reload never changes the rules mid-request and never drops one in flight.
 */
import type { CompiledPolicy, TokenRevocation } from '../policy/types.js';
import { RevocationSet } from '../revocation/set.js';

export interface Enforcement {
  readonly policy: CompiledPolicy;
  readonly revocations: RevocationSet;
  /** Increments on every applied change; the metric tokenwarden_config_generation. */
  readonly generation: number;
  /** Epoch milliseconds. */
  readonly appliedAt: number;
  /** Lower-case names of headers the app receives only from the sidecar (forwardClaims). */
  readonly strippedHeaders: ReadonlySet<string>;
}

export type EnforcementListener = (active: Enforcement, previous: Enforcement | undefined) => void;

export class EnforcementState {
  #active: Enforcement | undefined;
  #generation = 0;
  readonly #listeners: EnforcementListener[] = [];
  /** The revocation documents behind `active`, to rebuild the set when one of them expires. */
  #revocations: Iterable<TokenRevocation> = [];

  get active(): Enforcement | undefined {
    return this.#active;
  }

  onApply(listener: EnforcementListener): void {
    this.#listeners.push(listener);
  }

  /**
   * Swaps in a new configuration. `built`, when given, is the set of `revocations` already
   * built for `policy` (the stream applies deltas incrementally, RevocationSet.update);
   * `revocations` must be iterable again later (expiry rebuilds from it).
   */
  apply(
    policy: CompiledPolicy,
    revocations: Iterable<TokenRevocation>,
    nowMs: number,
    built?: RevocationSet,
  ): Enforcement {
    const previous = this.#active;
    const next: Enforcement = {
      policy,
      revocations:
        built ??
        RevocationSet.build(revocations, { name: policy.name, namespace: policy.namespace }, nowMs / 1000),
      generation: ++this.#generation,
      appliedAt: nowMs,
      strippedHeaders: new Set(policy.forwardClaims.map((f) => f.header)),
    };
    this.#active = next;
    this.#revocations = revocations;
    for (const listener of this.#listeners) listener(next, previous);
    return next;
  }

  /**
   * Lets revocations past their `expiresAt` go (a built set keeps them, erring towards refusing),
   * so the enforced set and the `tokenwarden_revocations` gauge agree with the documents. Called
   * periodically; a no-op until the earliest expiry has passed.
   */
  expireRevocations(nowMs: number): Enforcement | undefined {
    const active = this.#active;
    const next = active?.revocations.nextExpirySeconds;
    if (active === undefined || next === undefined || nowMs / 1000 < next) return undefined;
    return this.apply(active.policy, this.#revocations, nowMs);
  }
}
