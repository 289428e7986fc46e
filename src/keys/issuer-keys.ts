/**
 * The keys of one issuer: the current usable set, how it is refreshed, and the lookup of a
 * token's key in it. The refetch rules (jose's remote JWKS, Envoy's jwks_cache):
 *
 * - single-flight: at most one load in flight; every caller that needs it awaits the same one;
 * - an unknown kid may trigger a load, but at most one per `cooldownMs` (counted from the start
 *   of the last load of any kind), so a stream of tokens with invented kids costs the provider
 *   one request a second at most;
 * - a failed load changes nothing: the keys already held keep working while the source is down;
 * - periodic refresh on an unref'd timer, sooner after a failure, stopped by close().
 *
 * Pushed keys (in-cluster): the operator fetches the JWKS and streams it; the sidecar never
 * calls the identity provider. The set is installed whole (`install`), and an unknown kid asks
 * the operator for a refresh (`onUnknownKid`, under the same cooldown) without waiting for it:
 * the request fails closed with unknown_key and a retry after the push succeeds.
 */
import type { Algorithm } from '../policy/types.js';
import { EMPTY_KEY_SET, buildKeySet, matchKey, type KeySet, type Match } from './jwks.js';
import type { LoadResult, SourceLoader } from './source.js';
import type { IssuerKeyStatus, KeyResolution, RefreshResult } from './types.js';
import type { JWK } from 'jose';

export interface IssuerKeysDeps {
  readonly now: () => number;
  readonly refreshIntervalMs: number;
  readonly retryIntervalMs: number;
  readonly cooldownMs: number;
  readonly onRefresh: (result: RefreshResult, detail?: string) => void;
  /** The usable key set changed (not called for a refetch that found the same keys). */
  readonly onChange: () => void;
  /** Pushed keys only: a token named a kid the set lacks; ask the pusher for a refresh. */
  readonly onUnknownKid?: (kid: string | undefined) => void;
}

/** A kid quoted for a description, when it is a plain identifier; attacker text is not echoed. */
function describeKid(kid: string): string {
  return /^[\w.:+=@-]{1,128}$/.test(kid) ? `kid "${kid}"` : 'the kid of the token';
}

export class IssuerKeys {
  private set: KeySet = EMPTY_KEY_SET;
  private inflight: Promise<void> | undefined;
  private lastAttemptAt = Number.NEGATIVE_INFINITY;
  private lastSuccessAt: number | undefined;
  private lastError: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    readonly issuer: string,
    /** Identity of the key source: the store replaces this object when it changes. */
    readonly sourceId: string,
    private readonly loader: SourceLoader,
    private readonly deps: IssuerKeysDeps,
  ) {}

  get ready(): boolean {
    return this.lastSuccessAt !== undefined;
  }

  get status(): IssuerKeyStatus {
    const { issuer, lastSuccessAt, lastError } = this;
    return { issuer, ready: this.ready, keyCount: this.set.entries.length, lastSuccessAt, lastError };
  }

  get publicKeys(): JWK[] {
    return this.set.entries.map((e) => e.jwk);
  }

  /** Load now unless a load is in flight; resolves when that load has finished. Never rejects. */
  refresh(): Promise<void> {
    if (this.inflight !== undefined) return this.inflight;
    this.lastAttemptAt = this.deps.now();
    this.inflight = this.load().then((ok) => {
      this.inflight = undefined;
      this.schedule(ok);
    });
    return this.inflight;
  }

  /**
   * Synchronous whenever nothing has to be waited for (the common case: the set holds the key);
   * a promise only while a load this lookup needs is in flight or is started by it.
   */
  resolve(kid: string | undefined, alg: Algorithm): KeyResolution | Promise<KeyResolution> {
    const match = matchKey(this.set, kid, alg);
    if (match.kind !== 'none') return this.toResolution(match, kid, alg);
    if (this.deps.onUnknownKid !== undefined) {
      if (this.deps.now() - this.lastAttemptAt >= this.deps.cooldownMs) {
        this.lastAttemptAt = this.deps.now();
        this.deps.onUnknownKid(kid);
      }
      return this.toResolution(match, kid, alg);
    }
    const again = (): KeyResolution => this.toResolution(matchKey(this.set, kid, alg), kid, alg);
    // The first load at start-up, or a refetch someone else started.
    if (this.inflight !== undefined) return this.inflight.then(again);
    // A rotated-in key: the one refetch this kid is allowed.
    if (this.loader.remote && this.deps.now() - this.lastAttemptAt >= this.deps.cooldownMs) {
      return this.refresh().then(again);
    }
    return this.toResolution(match, kid, alg);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  /**
   * Pushed keys: replace the set with one built beforehand (buildKeySet is async; installing is
   * not, so a caller can swap keys and policy in one tick and no request sees a mix).
   */
  install(set: KeySet): void {
    const changed = set.id !== this.set.id;
    this.set = set;
    this.lastSuccessAt = this.deps.now();
    this.lastError = undefined;
    if (changed) this.deps.onChange();
  }

  private toResolution(match: Match, kid: string | undefined, alg: Algorithm): KeyResolution {
    switch (match.kind) {
      case 'found':
        return { ok: true, key: match.entry.key };
      case 'unfit':
        return {
          ok: false,
          reason: 'bad_signature',
          description: `${describeKid(kid ?? '')} names a key that cannot have signed this token: ${match.why}`,
        };
      case 'ambiguous':
        return {
          ok: false,
          reason: 'unknown_key',
          description: `the token has no kid and ${match.count} keys of its issuer fit ${alg}`,
        };
      case 'none':
        return {
          ok: false,
          reason: 'unknown_key',
          description:
            kid === undefined
              ? `the token has no kid and no key of its issuer fits ${alg}`
              : `no key with ${describeKid(kid)} among the keys of its issuer`,
        };
    }
  }

  /** One load: true when the source answered with something usable (or not_modified). */
  private async load(): Promise<boolean> {
    let result: LoadResult;
    try {
      result = await this.loader.load();
    } catch (err) {
      // Loaders return failures as values; this is a bug, contained so that keys stay usable.
      result = { kind: 'failure', error: `unexpected: ${String(err)}` };
    }
    if (result.kind === 'jwks') {
      const built = await buildKeySet(result.doc);
      if (built.ok) {
        if (this.closed) return true;
        const changed = built.set.id !== this.set.id;
        this.set = built.set;
        this.succeeded('success');
        if (changed) this.deps.onChange();
        return true;
      }
      this.loader.reset?.();
      result = { kind: 'failure', error: built.error };
    }
    if (result.kind === 'not_modified') {
      this.succeeded('not_modified');
      return true;
    }
    this.lastError = result.error;
    if (this.loader.remote) this.deps.onRefresh('failure', result.error);
    return false;
  }

  private succeeded(result: RefreshResult): void {
    this.lastSuccessAt = this.deps.now();
    this.lastError = undefined;
    if (this.loader.remote) this.deps.onRefresh(result);
  }

  private schedule(ok: boolean): void {
    if (this.closed || !this.loader.remote) return;
    clearTimeout(this.timer);
    const delay = ok
      ? this.deps.refreshIntervalMs
      : Math.min(this.deps.retryIntervalMs, this.deps.refreshIntervalMs);
    // unref: a pending refresh must never keep a process alive that is otherwise done.
    this.timer = setTimeout(() => void this.refresh(), delay).unref();
  }
}
