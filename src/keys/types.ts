/**
 * What verification asks of the key layer, kept apart from the store so that src/token depends
 * on an interface (and tests or the operator may pass another implementation).
 */
import type { KeyObject } from 'node:crypto';
import type { RefreshResult } from '../core/reasons.js';
import type { Algorithm } from '../policy/types.js';

/**
 * `unknown_key`: no key the token could name, even after the one refetch it is allowed.
 * `bad_signature`: the token names a key that exists but cannot have made this signature (an
 * RS256 header on an EC key, a key pinned to another `alg`): the token is forged or broken, and
 * no refetch will change that, so none is made.
 */
export type KeyResolution =
  | { readonly ok: true; readonly key: KeyObject }
  | { readonly ok: false; readonly reason: 'unknown_key' | 'bad_signature'; readonly description: string };

export interface KeyResolver {
  /**
   * The key that may have signed a token of `issuer` with header `kid`/`alg`. Never throws nor
   * rejects. A plain value when the answer needs no waiting (the key set is loaded and holds the
   * key, or the answer is a refusal), a promise only when it must wait for a load: the cache-miss
   * path then verifies without a promise or a tick (ADR 0004).
   * `kid` is only ever compared with the `kid` of fetched keys: it never reaches a URL or a path.
   */
  resolve(issuer: string, kid: string | undefined, alg: Algorithm): KeyResolution | Promise<KeyResolution>;
  /** Increments whenever any key set changes: a verified-token cache is stale once it moves. */
  readonly version: number;
}

/** Outcome of one fetch of a key source (a closed label set: see src/core/reasons.ts). */
export type { RefreshResult };

/** Per-issuer state for /status and operator conditions. */
export interface IssuerKeyStatus {
  readonly issuer: string;
  /** Fetched successfully at least once. */
  readonly ready: boolean;
  readonly keyCount: number;
  /** Epoch milliseconds (the injected clock) of the last successful fetch. */
  readonly lastSuccessAt: number | undefined;
  /** Why the last fetch failed; cleared by the next success. */
  readonly lastError: string | undefined;
}

export interface KeyStoreOptions {
  /** globalThis.fetch by default. */
  readonly fetch?: typeof globalThis.fetch;
  /** Epoch milliseconds; Date.now by default. */
  readonly now?: () => number;
  /** Periodic refresh of every fetched source. Default 5 min. */
  readonly refreshIntervalMs?: number;
  /** Next attempt after a failed fetch, so a source down at start-up is retried soon. Default 10 s. */
  readonly retryIntervalMs?: number;
  /** At most one refetch per issuer per this long on an unknown kid. Default 1 s. */
  readonly unknownKidCooldownMs?: number;
  /** Per HTTP request. Default 5 s. */
  readonly timeoutMs?: number;
  /** Largest JWKS or discovery document accepted. Default 1 MiB. */
  readonly maxResponseBytes?: number;
  /**
   * For tokenwarden_jwks_refresh_total, after every fetch of a remote source (never for inline
   * keys); `detail` says why a failure failed, in one line that holds no secret.
   */
  readonly onRefresh?: (issuer: string, result: RefreshResult, detail?: string) => void;
  /**
   * Pushed keys (KeyStore.install): a token named a kid its issuer's pushed set lacks. Called at
   * most once per issuer per `unknownKidCooldownMs`; the request itself fails closed meanwhile.
   */
  readonly onUnknownKid?: (issuer: string, kid: string | undefined) => void;
}
