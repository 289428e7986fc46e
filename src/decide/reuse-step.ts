/**
 * The reuse step of the decision: one use counted through the ReuseStore interface
 * (src/revocation/reuse-store.ts), and its outcome judged against `reuse.maxUses`. Synchronous
 * when the store answers synchronously (the in-memory store: no promise on the hot path); a
 * promise only when the store answers with one. Never fails open: a full store refuses the token
 * (`reuse_store_full`), a store that cannot be asked refuses the request with 503
 * (`reuse_store_unavailable`) unless the policy chose to count per pod meanwhile.
 */
import type { CompiledPolicy } from '../policy/types.js';
import type { ReuseKey, ReuseOutcome, ReuseStore } from '../revocation/reuse-store.js';
import type { AfterVerify, DecisionFailure } from './steps.js';

/** What was done with a use the store could not be asked about. */
export type UnavailableAction = 'refused' | 'counted_per_pod';

export interface ReuseCountingOptions {
  readonly store: ReuseStore;
  /** Per-pod store for policies with `reuse.onUnavailable: count_per_pod`. */
  readonly fallback?: ReuseStore | undefined;
  /** A use was refused because a store was full (for a rate-limited log). */
  readonly onFull?: (() => void) | undefined;
  /** The store could not be asked; `detail` comes from the store and never holds a token. */
  readonly onUnavailable?: ((detail: string, action: UnavailableAction) => void) | undefined;
}

const REJECTED: ReuseOutcome = Object.freeze({ kind: 'unavailable', detail: 'the store failed to answer' });

/** Counts uses for the engine: the store, then the policy's choice when it cannot answer. */
export class ReuseCounting {
  readonly #o: ReuseCountingOptions;

  constructor(options: ReuseCountingOptions) {
    this.#o = options;
  }

  count(
    policy: CompiledPolicy,
    key: ReuseKey,
    exp: number,
    now: number,
  ): ReuseOutcome | Promise<ReuseOutcome> {
    const out = this.#o.store.use(key, exp, now);
    if (out instanceof Promise) {
      // A store must not reject; if one does, that is an answer it could not give (never open).
      const judge = (o: ReuseOutcome): ReuseOutcome | Promise<ReuseOutcome> =>
        this.#judge(policy, key, exp, now, o);
      return out.then(judge, () => judge(REJECTED));
    }
    return this.#judge(policy, key, exp, now, out);
  }

  #judge(
    policy: CompiledPolicy,
    key: ReuseKey,
    exp: number,
    now: number,
    o: ReuseOutcome,
  ): ReuseOutcome | Promise<ReuseOutcome> {
    if (o.kind === 'full') this.#o.onFull?.();
    if (o.kind !== 'unavailable') return o;
    const fallback = this.#o.fallback;
    if (policy.reuse?.onUnavailable !== 'count_per_pod' || fallback === undefined) {
      this.#o.onUnavailable?.(o.detail, 'refused');
      return o;
    }
    this.#o.onUnavailable?.(o.detail, 'counted_per_pod');
    const local = fallback.use(key, exp, now);
    if (local instanceof Promise) return local.then((l) => this.#fallbackFull(l));
    return this.#fallbackFull(local);
  }

  #fallbackFull(o: ReuseOutcome): ReuseOutcome {
    if (o.kind === 'full') this.#o.onFull?.();
    return o;
  }
}

/** The refusal an outcome means for a token allowed `maxUses` uses, or undefined. */
function reuseFailure(o: ReuseOutcome, maxUses: number): DecisionFailure | undefined {
  switch (o.kind) {
    case 'counted':
      return o.uses > maxUses
        ? { stage: 'token', reason: 'reused', description: `use ${o.uses} of at most ${maxUses}` }
        : undefined;
    case 'full':
      return STORE_FULL;
    case 'unavailable':
      return {
        stage: 'token',
        reason: 'reuse_store_unavailable',
        description: `the reuse store could not be asked (${o.detail})`,
      };
  }
}

const STORE_FULL: DecisionFailure = Object.freeze({
  stage: 'token',
  reason: 'reuse_store_full',
  description: 'the reuse store is full (refusing rather than forgetting uses)',
});

/**
 * The chain's reuse step (src/decide/steps.ts): counts one use of a token with a `jti` under a
 * reuse-limited policy, when the caller counts (`check` does not). Keyed by issuer too: two
 * issuers may mint the same jti.
 */
export function reuseStep(
  c: AfterVerify,
): DecisionFailure | undefined | Promise<DecisionFailure | undefined> {
  const policy = c.active.policy;
  const maxUses = policy.maxUses;
  const jti = c.claims.jti;
  if (maxUses === 0 || c.reuse === undefined || typeof jti !== 'string') return undefined;
  const iss = c.claims.iss;
  const key: ReuseKey = { policy: policy.name, issuer: typeof iss === 'string' ? iss : '', jti };
  const out = c.reuse.count(policy, key, c.exp, c.nowSeconds);
  if (out instanceof Promise) return out.then((o) => reuseFailure(o, maxUses));
  return reuseFailure(out, maxUses);
}
