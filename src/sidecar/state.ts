/**
 * The configuration the sidecar enforces, swapped atomically: a request reads `active` once and
 * runs to the end against that snapshot, so a reload never changes the rules mid-request and
 * never drops one in flight.
 */
import type { CompiledPolicy, TokenRevocation } from '../policy/types.js';
import { RevocationSet } from '../revocation/set.js';

export interface ActiveConfig {
  readonly policy: CompiledPolicy;
  readonly revocations: RevocationSet;
  /** Increments on every applied change; the metric tokenwarden_config_generation. */
  readonly generation: number;
  /** Epoch milliseconds. */
  readonly appliedAt: number;
  /** Lower-case names of headers the app receives only from the sidecar (forwardClaims). */
  readonly strippedHeaders: ReadonlySet<string>;
}

export type ConfigListener = (active: ActiveConfig, previous: ActiveConfig | undefined) => void;

export class ConfigState {
  #active: ActiveConfig | undefined;
  #generation = 0;
  readonly #listeners: ConfigListener[] = [];

  get active(): ActiveConfig | undefined {
    return this.#active;
  }

  onApply(listener: ConfigListener): void {
    this.#listeners.push(listener);
  }

  apply(policy: CompiledPolicy, revocations: readonly TokenRevocation[], nowMs: number): ActiveConfig {
    const previous = this.#active;
    const next: ActiveConfig = {
      policy,
      revocations: RevocationSet.build(
        [...revocations],
        { name: policy.name, namespace: policy.namespace },
        nowMs / 1000,
      ),
      generation: ++this.#generation,
      appliedAt: nowMs,
      strippedHeaders: new Set(policy.forwardClaims.map((f) => f.header)),
    };
    this.#active = next;
    for (const listener of this.#listeners) listener(next, previous);
    return next;
  }
}
