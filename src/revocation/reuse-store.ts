/**
 * Where `spec.reuse.maxUses` is counted. The decision's reuse step talks to this interface only:
 * the in-memory `MemoryReuseStore` (src/revocation/reuse.ts, one table per sidecar) is the
 * embedded implementation; a shared store (every sidecar of a policy counting in one place) is
 * another. The decision (src/decide/reuse-step.ts) refuses `full` as `reuse_store_full` and
 * `unavailable` as `reuse_store_unavailable` (503), or, when the policy says
 * `reuse.onUnavailable: count_per_pod`, counts in its per-pod fallback store instead.
 *
 * `use` may answer synchronously (the in-memory store: no promise on the hot path) or with a
 * promise (a store across the network). It never throws and never rejects: every failure is an
 * outcome, so the caller always has something to decide on and nothing fails open (the decision
 * reads a rejection, should one happen anyway, as `unavailable`).
 */

/** What one recorded use came to. */
export type ReuseOutcome =
  /** The use was recorded; `uses` counts it (1 on the first presentation). */
  | { readonly kind: 'counted'; readonly uses: number }
  /** The store refuses to record more keys (bounded memory): refuse the token, never forget a count. */
  | { readonly kind: 'full' }
  /** The store could not be asked (unreachable, timed out, refused): refuse, or fall back if the policy says so. */
  | { readonly kind: 'unavailable'; readonly detail: string };

/** Identifies one token for counting: a `jti` is unique only per issuer, and counts never cross policies. */
export interface ReuseKey {
  readonly policy: string;
  readonly issuer: string;
  readonly jti: string;
}

/** Read at scrape time and by `/status`; no key, token or credential ever appears here. */
export interface ReuseStoreStats {
  /** `memory` (per sidecar) or `shared`. */
  readonly kind: 'memory' | 'shared';
  /** Keys held locally (the in-memory table; 0 for a shared store). */
  readonly entries: number;
  /** Estimated bytes held locally, and the cap. */
  readonly bytes: number;
  readonly capacityBytes: number;
  /** Uses refused because the store was full, since start. */
  readonly refusedFull: number;
  /** Uses the store could not be asked about, since start. */
  readonly unavailable: number;
  /** A shared store: where it is and whether it is connected (never a credential). */
  readonly shared?: {
    readonly mode: string;
    readonly addresses: readonly string[];
    readonly tls: boolean;
    /** The client's connection state (`ready`, `connecting`, `reconnecting`, …, `loading`, `failed`). */
    readonly status: string;
  };
}

export interface ReuseStore {
  /**
   * Records one use of `key` for a token that expires at `expSeconds` (Infinity when it has no
   * `exp`); the entry lives at least until then plus the policy's clock skew.
   */
  use(key: ReuseKey, expSeconds: number, nowSeconds: number): ReuseOutcome | Promise<ReuseOutcome>;
  /** Drops what has expired (the in-memory store; a shared store lets the server expire keys). */
  sweep(nowSeconds: number): void;
  stats(): ReuseStoreStats;
  close(): Promise<void>;
}
