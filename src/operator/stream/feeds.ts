/**
 * The feeds this replica holds: one PolicyFeed per TokenPolicy that sidecars use,
 * built from the caches on first connect and rebuilt when marked dirty. A policy is validated
 * by the catalog; revocations are read straight from the informer cache, so a write reaches
 * sidecars without waiting for a reconcile.
 *
 * Invariant: a policy whose spec turns invalid keeps serving its last valid bundle (the
 * catalog's `lastValid`), as a bad policy file does on a sidecar.
 */
import type { ObjectCache } from '@kubernetes/client-node';
import type { PolicyBundle } from '../../distribution/protocol.js';
import type { TokenRevocation } from '../../policy/types.js';
import { isExpired } from '../../revocation/rule.js';
import type { PolicyCatalog } from '../policy/catalog.js';
import type { SharedKeys } from '../policy/keys.js';
import type { RawObject } from '../runtime/informers.js';
import { splitKey } from '../runtime/k8s.js';
import { PolicyFeed, type BundleChange } from './policy-feed.js';
import type { VersionSigner } from './signer.js';
import { validRevocation, wirePolicy } from './wire.js';

export interface FeedSources {
  readonly catalog: PolicyCatalog;
  /** The TokenRevocation informer's cache (validated here, each object once). */
  readonly revocations: Pick<ObjectCache<RawObject>, 'list'>;
  readonly keys: SharedKeys;
  readonly now: () => number;
  /** Signs each version (signer.ts); without one, messages carry no proof. */
  readonly signer?: Pick<VersionSigner, 'proof'>;
}

export class FeedTable {
  private readonly states = new Map<string, PolicyFeed>();

  constructor(private readonly s: FeedSources) {}

  get(key: string): PolicyFeed | undefined {
    return this.states.get(key);
  }

  /** Keys of the policies held (those sidecars connected for). */
  keys(): IterableIterator<string> {
    return this.states.keys();
  }

  /** The policies held whose bundle trusts `issuer`. */
  withIssuer(issuer: string): string[] {
    return [...this.states].filter(([, st]) => trusts(st, issuer)).map(([key]) => key);
  }

  /** Does the held bundle of `key` trust `issuer`? */
  trusts(key: string, issuer: string): boolean {
    const state = this.states.get(key);
    return state !== undefined && trusts(state, issuer);
  }

  /** The bundle of `key`, built now if nobody held it yet; undefined when it never validated. */
  open(key: string): PolicyFeed | undefined {
    let state = this.states.get(key);
    if (state !== undefined) return state;
    const bundle = this.build(key);
    if (bundle === undefined) return undefined;
    state = new PolicyFeed(bundle, (version) => this.s.signer?.proof(key, version));
    this.states.set(key, state);
    return state;
  }

  /** Why `key` has no bundle to serve. */
  problem(key: string): string {
    const [namespace, name] = splitKey(key);
    const obj = this.s.catalog.get(namespace, name);
    return (obj === undefined ? '' : this.s.catalog.validated(obj).problem) || 'not valid';
  }

  /** Rebuilds a held bundle from the caches; what changed, if anything. */
  rebuild(state: PolicyFeed, key: string): BundleChange | undefined {
    const bundle = this.build(key);
    return bundle === undefined ? undefined : state.update(bundle);
  }

  drop(key: string): void {
    this.states.delete(key);
    this.s.catalog.forget(key);
  }

  private build(key: string): PolicyBundle | undefined {
    const [namespace, name] = splitKey(key);
    const obj = this.s.catalog.get(namespace, name);
    const policy = obj === undefined ? undefined : this.s.catalog.validated(obj).lastValid;
    if (policy === undefined) return undefined;
    return {
      policy: wirePolicy(policy),
      keys: this.s.keys.keysFor(key),
      revocations: this.revocationsFor(namespace, name),
    };
  }

  /** Unexpired valid revocations that apply to the policy (naming it, or naming none). */
  private revocationsFor(namespace: string, policyName: string): TokenRevocation[] {
    const now = this.s.now();
    const out: TokenRevocation[] = [];
    for (const obj of this.s.revocations.list(namespace)) {
      const rev = validRevocation(obj);
      if (rev === undefined || isExpired(rev, now)) continue;
      if (rev.spec.policyName !== undefined && rev.spec.policyName !== policyName) continue;
      out.push(rev);
    }
    return out;
  }
}

function trusts(state: PolicyFeed, issuer: string): boolean {
  return state.snapshot().policy.spec.issuers.some((i) => i.issuer === issuer);
}
