/**
 * Valid TokenRevocations indexed by namespace and by the policy they name, so "which
 * revocations apply to policy P" costs the size of the answer, not the size of the cluster.
 * A revocation without `spec.policyName` applies to every policy in its namespace. Fed by the
 * informer; only revocations that passed `validateRevocation` get in.
 */
import type { TokenRevocation } from '../../policy/types.js';
import { appliesTo, isExpired } from '../../revocation/rule.js';

/** Key of the bucket holding revocations that name no policy. */
const EVERY_POLICY = '';

interface NamespaceIndex {
  readonly byName: Map<string, TokenRevocation>;
  /** policyName (or EVERY_POLICY) → names of the revocations naming it. */
  readonly byPolicy: Map<string, Set<string>>;
}

export class RevocationIndex {
  private readonly namespaces = new Map<string, NamespaceIndex>();

  upsert(rev: TokenRevocation): void {
    const ns = rev.metadata.namespace ?? '';
    this.remove(ns, rev.metadata.name);
    let idx = this.namespaces.get(ns);
    if (idx === undefined) {
      idx = { byName: new Map(), byPolicy: new Map() };
      this.namespaces.set(ns, idx);
    }
    idx.byName.set(rev.metadata.name, rev);
    const bucket = rev.spec.policyName ?? EVERY_POLICY;
    let names = idx.byPolicy.get(bucket);
    if (names === undefined) {
      names = new Set();
      idx.byPolicy.set(bucket, names);
    }
    names.add(rev.metadata.name);
  }

  /** Returns the revocation that was removed, if any (its policy needs another look). */
  remove(namespace: string, name: string): TokenRevocation | undefined {
    const idx = this.namespaces.get(namespace);
    const rev = idx?.byName.get(name);
    if (idx === undefined || rev === undefined) return undefined;
    idx.byName.delete(name);
    const bucket = rev.spec.policyName ?? EVERY_POLICY;
    const names = idx.byPolicy.get(bucket);
    names?.delete(name);
    if (names?.size === 0) idx.byPolicy.delete(bucket);
    if (idx.byName.size === 0) this.namespaces.delete(namespace);
    return rev;
  }

  get(namespace: string, name: string): TokenRevocation | undefined {
    return this.namespaces.get(namespace)?.byName.get(name);
  }

  /** Unexpired revocations that apply to the policy, sorted by name for a stable result. */
  forPolicy(namespace: string, policyName: string, nowMs: number): TokenRevocation[] {
    const idx = this.namespaces.get(namespace);
    if (idx === undefined) return [];
    const policy = { name: policyName, namespace };
    const out: TokenRevocation[] = [];
    for (const bucket of [policyName, EVERY_POLICY]) {
      for (const name of idx.byPolicy.get(bucket) ?? []) {
        const rev = idx.byName.get(name);
        // The buckets already select by namespace and policy; appliesTo states the rule anyway.
        if (rev !== undefined && appliesTo(rev, policy) && !isExpired(rev, nowMs)) out.push(rev);
      }
    }
    return out.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  }

  /** `status.revocations` of a policy: the entries of the unexpired revocations that apply to it. */
  countEntries(namespace: string, policyName: string, nowMs: number): number {
    let n = 0;
    for (const rev of this.forPolicy(namespace, policyName, nowMs)) n += rev.spec.tokens.length;
    return n;
  }

  size(): number {
    let n = 0;
    for (const idx of this.namespaces.values()) n += idx.byName.size;
    return n;
  }
}
