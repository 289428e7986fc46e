/**
 * KeyStore: the key layer as verification sees it (a KeyResolver), holding one IssuerKeys per
 * issuer of the policy (or policies) it serves. `sync()` follows policy changes: an issuer whose
 * key source did not change keeps its keys and timers across a reload; a changed or removed one
 * is closed. `version` moves whenever any usable key set changes, so a verified-token cache
 * keyed on it forgets tokens signed by a key that is gone.
 */
import type { JWK } from 'jose';
import type { Algorithm, CompiledIssuer, KeySourceSpec } from '../policy/types.js';
import { IssuerKeys } from './issuer-keys.js';
import { buildKeySet, type KeySet } from './jwks.js';
import { makeLoader, type SourceLoader } from './source.js';
import type { IssuerKeyStatus, KeyResolution, KeyResolver, KeyStoreOptions, RefreshResult } from './types.js';

export const DEFAULT_REFRESH_INTERVAL_MS = 5 * 60_000;
export const DEFAULT_RETRY_INTERVAL_MS = 10_000;
export const DEFAULT_UNKNOWN_KID_COOLDOWN_MS = 1_000;
export const DEFAULT_TIMEOUT_MS = 5_000;
export const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;

/** Key sets built ahead of `install` (see KeyStore.prepare). */
export type PreparedKeys = ReadonlyMap<string, KeySet>;

/** A pushed issuer never loads: its keys arrive through `install`. */
const PUSHED_LOADER: SourceLoader = {
  remote: false,
  load: () => Promise.resolve({ kind: 'failure', error: 'pushed keys are installed, not loaded' }),
};
const PUSHED_SOURCE_ID = 'pushed';
const NO_KEY_SOURCE: KeyResolution = Object.freeze({
  ok: false,
  reason: 'unknown_key',
  description: 'no key source for this issuer',
});

/** One issuer, one key source: the source's identity, the same whatever the policy object. */
function sourceId(source: KeySourceSpec): string {
  return JSON.stringify(source);
}

export class KeyStore implements KeyResolver {
  private readonly issuers = new Map<string, IssuerKeys>();
  private readonly opts: Required<Omit<KeyStoreOptions, 'onRefresh' | 'onUnknownKid'>> &
    Pick<KeyStoreOptions, 'onRefresh' | 'onUnknownKid'>;
  private changes = 0;
  private closed = false;

  constructor(options: KeyStoreOptions = {}) {
    this.opts = {
      // Late-bound so a test or a wrapper installed after construction is honoured.
      fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
      now: options.now ?? Date.now,
      refreshIntervalMs: options.refreshIntervalMs ?? DEFAULT_REFRESH_INTERVAL_MS,
      retryIntervalMs: options.retryIntervalMs ?? DEFAULT_RETRY_INTERVAL_MS,
      unknownKidCooldownMs: options.unknownKidCooldownMs ?? DEFAULT_UNKNOWN_KID_COOLDOWN_MS,
      timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      maxResponseBytes: options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
      onRefresh: options.onRefresh,
      onUnknownKid: options.onUnknownKid,
    };
  }

  /** Increments whenever a usable key set changes (a first load included) or an issuer is dropped. */
  get version(): number {
    return this.changes;
  }

  /** Every issuer has been loaded successfully at least once (false while there is none). */
  get ready(): boolean {
    if (this.issuers.size === 0) return false;
    for (const keys of this.issuers.values()) if (!keys.ready) return false;
    return true;
  }

  /**
   * Serve exactly these issuers from now on. Starts loading new or changed sources and resolves
   * once each of those first loads has finished (successfully or not); never rejects, so a caller
   * that does not care may `void` it. Callers resolving meanwhile wait for the first load.
   */
  sync(issuers: Iterable<CompiledIssuer>): Promise<void> {
    if (this.closed) throw new Error('KeyStore.sync() after close()');
    const wanted = new Map<string, CompiledIssuer>();
    for (const i of issuers) wanted.set(i.issuer, i);
    for (const [issuer, keys] of this.issuers) {
      const next = wanted.get(issuer);
      if (next === undefined || sourceId(next.keySource) !== keys.sourceId) {
        keys.close();
        this.issuers.delete(issuer);
        this.changes++;
      }
    }
    const loads: Promise<void>[] = [];
    for (const [issuer, spec] of wanted) {
      if (this.issuers.has(issuer)) continue;
      const keys = this.create(issuer, spec.keySource);
      this.issuers.set(issuer, keys);
      loads.push(keys.refresh());
    }
    return Promise.all(loads).then(() => undefined);
  }

  /**
   * Pushed keys, step 1 (async): the JWK sets as the operator sent them → usable key sets. A
   * document that is not a JWK set becomes an empty set (its tokens fail closed: unknown_key).
   */
  static async prepare(keys: Readonly<Record<string, { keys: JWK[] }>>): Promise<PreparedKeys> {
    const out = new Map<string, KeySet>();
    for (const [issuer, doc] of Object.entries(keys)) {
      const built = await buildKeySet(doc);
      out.set(issuer, built.ok ? built.set : { entries: [], id: '[]' });
    }
    return out;
  }

  /**
   * Pushed keys, step 2 (synchronous): serve exactly these issuers with these keys. Nothing is
   * fetched; an unknown kid calls `onUnknownKid` (KeyStoreOptions) at most once per cooldown.
   */
  install(prepared: PreparedKeys): void {
    if (this.closed) throw new Error('KeyStore.install() after close()');
    for (const [issuer, keys] of this.issuers) {
      if (!prepared.has(issuer) || keys.sourceId !== PUSHED_SOURCE_ID) {
        keys.close();
        this.issuers.delete(issuer);
        this.changes++;
      }
    }
    for (const [issuer, set] of prepared) {
      let keys = this.issuers.get(issuer);
      if (keys === undefined) {
        keys = this.createPushed(issuer);
        this.issuers.set(issuer, keys);
      }
      keys.install(set);
    }
  }

  resolve(issuer: string, kid: string | undefined, alg: Algorithm): KeyResolution | Promise<KeyResolution> {
    const keys = this.issuers.get(issuer);
    if (keys === undefined) {
      // The verifier only asks for issuers of the policy; a store not synced with it is a wiring
      // bug, answered as a refusal rather than an exception on the request path.
      return NO_KEY_SOURCE;
    }
    return keys.resolve(kid, alg);
  }

  /** Load every remote source now (single-flight with any load in progress). */
  refreshAll(): Promise<void> {
    return Promise.all([...this.issuers.values()].map((k) => k.refresh())).then(() => undefined);
  }

  status(): IssuerKeyStatus[] {
    return [...this.issuers.values()].map((k) => k.status);
  }

  /** The usable public keys of `issuer` as JWKs: what the operator sends to its sidecars. */
  publicKeys(issuer: string): JWK[] | undefined {
    return this.issuers.get(issuer)?.publicKeys;
  }

  /** Stops every timer; in-flight loads finish but change nothing. */
  close(): void {
    this.closed = true;
    for (const keys of this.issuers.values()) keys.close();
  }

  private createPushed(issuer: string): IssuerKeys {
    const o = this.opts;
    const onUnknownKid = o.onUnknownKid;
    return new IssuerKeys(issuer, PUSHED_SOURCE_ID, PUSHED_LOADER, {
      now: o.now,
      refreshIntervalMs: o.refreshIntervalMs,
      retryIntervalMs: o.retryIntervalMs,
      cooldownMs: o.unknownKidCooldownMs,
      onRefresh: () => undefined,
      onChange: () => this.changes++,
      onUnknownKid: (kid) => onUnknownKid?.(issuer, kid),
    });
  }

  private create(issuer: string, source: KeySourceSpec): IssuerKeys {
    const o = this.opts;
    const loader = makeLoader(source, {
      fetch: o.fetch,
      timeoutMs: o.timeoutMs,
      maxBytes: o.maxResponseBytes,
    });
    return new IssuerKeys(issuer, sourceId(source), loader, {
      now: o.now,
      refreshIntervalMs: o.refreshIntervalMs,
      retryIntervalMs: o.retryIntervalMs,
      cooldownMs: o.unknownKidCooldownMs,
      onRefresh: (result: RefreshResult, detail?: string) => o.onRefresh?.(issuer, result, detail),
      onChange: () => this.changes++,
    });
  }
}
