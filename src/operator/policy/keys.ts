/**
 * The operator's key fetching: one KeyStore (src/keys) per distinct issuer key source, shared
 * by every policy that names it, so a hundred policies trusting one identity provider cost it
 * one JWKS fetch per refresh, not a hundred. Each store refreshes itself on its own schedule
 * (src/keys); a policy whose keys are missing asks for a refresh on demand, at most once a
 * second per source. Stores no policy uses any more are closed.
 */
import type { JWK } from 'jose';
import { KeyStore } from '../../keys/store.js';
import type { KeyResolver, KeyStoreOptions } from '../../keys/types.js';
import type { CompiledIssuer } from '../../policy/types.js';

export interface KeyProblem {
  readonly issuer: string;
  readonly message: string;
}

interface Shared {
  readonly store: KeyStore;
  readonly issuer: string;
  readonly users: Set<string>;
  /** The first load: every policy using the source waits for it, not only the first one. */
  readonly firstLoad: Promise<void>;
  lastOnDemandAt: number;
}

const ON_DEMAND_COOLDOWN_MS = 1_000;

function sourceId(i: CompiledIssuer): string {
  return JSON.stringify([i.issuer, i.keySource]);
}

export class SharedKeys {
  private readonly sources = new Map<string, Shared>();
  /** policy key → source ids it uses */
  private readonly byPolicy = new Map<string, Set<string>>();

  constructor(
    private readonly options: KeyStoreOptions = {},
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Records that `policy` uses `issuers` (dropping what it used before), waits for the first
   * load of any source not fetched yet, and reports every issuer whose keys are unavailable.
   */
  async ensure(policy: string, issuers: Iterable<CompiledIssuer>): Promise<KeyProblem[]> {
    const wanted = new Map<string, CompiledIssuer>();
    for (const i of issuers) wanted.set(sourceId(i), i);
    this.release(policy, new Set(wanted.keys()));
    const loads: Promise<void>[] = [];
    for (const [id, issuer] of wanted) {
      let shared = this.sources.get(id);
      if (shared === undefined) {
        const store = new KeyStore(this.options);
        shared = {
          store,
          issuer: issuer.issuer,
          users: new Set(),
          firstLoad: store.sync([issuer]),
          lastOnDemandAt: this.now(),
        };
        this.sources.set(id, shared);
      }
      loads.push(shared.firstLoad);
      if (!shared.store.ready && this.now() - shared.lastOnDemandAt >= ON_DEMAND_COOLDOWN_MS) {
        shared.lastOnDemandAt = this.now();
        loads.push(shared.store.refreshAll());
      }
      shared.users.add(policy);
    }
    this.byPolicy.set(policy, new Set(wanted.keys()));
    await Promise.all(loads);
    const problems: KeyProblem[] = [];
    for (const [id, issuer] of wanted) {
      const status = this.sources.get(id)?.store.status()[0];
      if (status?.ready === true && status.keyCount > 0) continue;
      const why =
        status?.lastError ?? (status?.ready === true ? 'the key set holds no usable key' : 'not fetched yet');
      problems.push({ issuer: issuer.issuer, message: why });
    }
    return problems.sort((a, b) => a.issuer.localeCompare(b.issuer));
  }

  /** The public keys this replica holds for `policy`, per issuer: what its sidecars are pushed. */
  keysFor(policy: string): Record<string, { keys: JWK[] }> {
    const out: Record<string, { keys: JWK[] }> = {};
    for (const id of this.byPolicy.get(policy) ?? []) {
      const shared = this.sources.get(id);
      if (shared === undefined) continue;
      out[shared.issuer] = { keys: shared.store.publicKeys(shared.issuer) ?? [] };
    }
    return out;
  }

  /**
   * The keys of `issuer` as `policy` uses them (the receivers verify pushed events with them);
   * undefined when this replica has not reconciled the policy yet.
   */
  resolverFor(policy: string, issuer: string): KeyResolver | undefined {
    for (const id of this.byPolicy.get(policy) ?? []) {
      const shared = this.sources.get(id);
      if (shared !== undefined && shared.issuer === issuer) return shared.store;
    }
    return undefined;
  }

  /**
   * A sidecar met an unknown kid: refetch `issuer`'s keys for `policy`, at most once a second
   * per source (single-flight with any fetch in progress). Resolves when the fetch is done; the
   * caller learns of new keys through `onRefresh` like any other fetch. False when throttled or
   * the policy does not use the issuer.
   */
  async refreshOnDemand(policy: string, issuer: string): Promise<boolean> {
    for (const id of this.byPolicy.get(policy) ?? []) {
      const shared = this.sources.get(id);
      if (shared === undefined || shared.issuer !== issuer) continue;
      if (this.now() - shared.lastOnDemandAt < ON_DEMAND_COOLDOWN_MS) return false;
      shared.lastOnDemandAt = this.now();
      await shared.store.refreshAll();
      return true;
    }
    return false;
  }

  /** The policy is gone: forget its sources, closing those nobody else uses. */
  forget(policy: string): void {
    this.release(policy, new Set());
    this.byPolicy.delete(policy);
  }

  /** Number of distinct key sources held. */
  size(): number {
    return this.sources.size;
  }

  close(): void {
    for (const s of this.sources.values()) s.store.close();
    this.sources.clear();
    this.byPolicy.clear();
  }

  private release(policy: string, keep: Set<string>): void {
    for (const id of this.byPolicy.get(policy) ?? []) {
      if (keep.has(id)) continue;
      const shared = this.sources.get(id);
      if (shared === undefined) continue;
      shared.users.delete(policy);
      if (shared.users.size === 0) {
        shared.store.close();
        this.sources.delete(id);
      }
    }
  }
}
