/**
 * The revocation set of one policy: which tokens are refused as `revoked`. Built from the
 * TokenRevocations of the cluster (or of a standalone file) whenever they change; matched on
 * every request, cache hit or not, in O(1) per entry kind (jti, tokenSha256, subject, sid).
 *
 * Which revocations apply (decided by src/revocation/rule.ts, the same rule the operator uses):
 *  - same namespace as the policy. Only a standalone file can hold a revocation without a
 *    namespace (the API server always sets one); it applies to the file's policy, whatever that
 *    policy's namespace: a revocation written next to a policy is never silently ignored;
 *  - `spec.policyName` absent (every policy of the namespace) or equal to the policy's name;
 *  - not past `spec.expiresAt`: after it the object may be garbage-collected, so its entries
 *    stop applying here too, and the sidecar and the cluster agree. Set `expiresAt` no earlier
 *    than the revoked tokens' own `exp`. A built set keeps a revocation that expires later until
 *    it is rebuilt (see `nextExpirySeconds`): it errs towards refusing, never towards accepting.
 */
import { parseRfc3339Seconds } from '../policy/time.js';
import type { RevocationEntry, TokenRevocation } from '../policy/types.js';
import { appliesTo, expiryMs, expiryPassed } from './rule.js';

export interface TokenIdentity {
  jti?: string;
  /** SHA-256 of the token's signed part (src/token/hash.ts `signedPartSha256`). */
  tokenSha256: string;
  sub?: string;
  /** The `sid` claim (an OpenID Connect session); a token without one never matches a sid entry. */
  sid?: string | undefined;
  iss: string;
  iat?: number;
}

interface SidEntry {
  readonly revocation: string;
  readonly issuer: string | undefined;
}

interface SubjectEntry {
  readonly revocation: string;
  readonly issuer: string | undefined;
  /** Seconds since the epoch; undefined: every token of the subject. */
  readonly issuedBefore: number | undefined;
}

/** A subject entry matches a token of that subject when its narrowing fields, if any, agree. */
function subjectEntryMatches(entry: SubjectEntry, iss: string, iat: number | undefined): boolean {
  if (entry.issuer !== undefined && entry.issuer !== iss) return false;
  // A token without `iat` cannot show it was issued after the cut-off, so it matches (fail
  // closed): otherwise leaving `iat` out would be a way around an issuedBefore revocation.
  if (entry.issuedBefore !== undefined && iat !== undefined && iat >= entry.issuedBefore) return false;
  return true;
}

/** The entries `addEntry` counts: those with a matcher (all of them, after validation). */
function hasMatcher(t: RevocationEntry): boolean {
  return t.jti !== undefined || t.tokenSha256 !== undefined || t.subject !== undefined || t.sid !== undefined;
}

export class RevocationSet {
  /** Entry value → name of the revocation it came from. */
  private byJti = new Map<string, string>();
  private bySha256 = new Map<string, string>();
  private bySubject = new Map<string, SubjectEntry[]>();
  /** sid values are unique per issuer only: each entry keeps its issuer narrowing. */
  private bySid = new Map<string, SidEntry[]>();
  private entries = 0;
  private earliestExpiry: number | undefined;
  /**
   * jti / sha256 values named by more than one entry. Removing a revocation that holds one
   * cannot just delete the value (another revocation may still revoke it), so `update` rebuilds.
   */
  private shared = new Set<string>();

  private constructor() {}

  static empty(): RevocationSet {
    return new RevocationSet();
  }

  /** The revocations that apply to `policy` at `nowSeconds` (see the file comment). */
  static build(
    revocations: Iterable<TokenRevocation>,
    policy: { name: string; namespace: string },
    nowSeconds: number,
  ): RevocationSet {
    const set = new RevocationSet();
    for (const r of revocations) set.addIfApplies(r, policy, nowSeconds);
    return set;
  }

  /**
   * The set after `removed` (names) left and `upserted` arrived (an upsert of a name in force
   * replaces it), without rebuilding from every document: the maps are copied (a copy of 100k
   * entries is several times cheaper than a build, bench/README.md) and only the changed
   * revocations are touched. `this` is left unchanged: requests holding it see the old set
   * until they finish. Falls back to `build(all())` when a removed value is shared.
   */
  update(
    removed: Iterable<string>,
    upserted: readonly TokenRevocation[],
    all: () => Iterable<TokenRevocation>,
    policy: { name: string; namespace: string },
    nowSeconds: number,
  ): RevocationSet {
    const gone = new Set(removed);
    for (const r of upserted) gone.add(r.metadata.name);
    const next = new RevocationSet();
    next.byJti = new Map(this.byJti);
    next.bySha256 = new Map(this.bySha256);
    next.bySubject = new Map(this.bySubject);
    next.bySid = new Map(this.bySid);
    next.entries = this.entries;
    next.earliestExpiry = this.earliestExpiry;
    next.shared = new Set(this.shared);
    next.sources = new Map(this.sources);
    for (const name of gone) {
      const tokens = this.sources.get(name);
      if (tokens === undefined) continue; // never applied (another policy's, or expired)
      if (!next.removeApplied(name, tokens)) return RevocationSet.build(all(), policy, nowSeconds);
      next.entries -= tokens.filter(hasMatcher).length;
    }
    for (const r of upserted) next.addIfApplies(r, policy, nowSeconds);
    return next;
  }

  /** Name → the entries it added (kept so a removal knows what to take out). */
  private sources = new Map<string, readonly RevocationEntry[]>();

  /** Deletes the entries of `name`; false when one of them is shared (the caller rebuilds). */
  private removeApplied(name: string, tokens: readonly RevocationEntry[] | undefined): boolean {
    if (tokens === undefined) return false;
    for (const t of tokens) {
      if (t.jti !== undefined) {
        if (this.shared.has(`j:${t.jti}`)) return false;
        if (this.byJti.get(t.jti) === name) this.byJti.delete(t.jti);
      } else if (t.tokenSha256 !== undefined) {
        if (this.shared.has(`s:${t.tokenSha256}`)) return false;
        if (this.bySha256.get(t.tokenSha256) === name) this.bySha256.delete(t.tokenSha256);
      } else if (t.subject !== undefined) {
        const list = this.bySubject.get(t.subject);
        if (list === undefined) continue;
        const kept = list.filter((e) => e.revocation !== name);
        if (kept.length === 0) this.bySubject.delete(t.subject);
        else this.bySubject.set(t.subject, kept); // a new array: the old set still holds the old one
      } else if (t.sid !== undefined) {
        const list = this.bySid.get(t.sid);
        if (list === undefined) continue;
        const kept = list.filter((e) => e.revocation !== name);
        if (kept.length === 0) this.bySid.delete(t.sid);
        else this.bySid.set(t.sid, kept);
      }
    }
    this.sources.delete(name);
    return true;
  }

  private addIfApplies(
    r: TokenRevocation,
    policy: { name: string; namespace: string },
    nowSeconds: number,
  ): void {
    if (!appliesTo(r, policy)) return;
    const atMs = expiryMs(r.spec.expiresAt);
    // Unparsable (impossible after validation): never expires, the entries stay (rule.ts).
    const expiresAt = atMs === undefined ? undefined : atMs / 1000;
    if (expiryPassed(expiresAt, nowSeconds)) return;
    if (expiresAt !== undefined) this.earliestExpiry = Math.min(expiresAt, this.earliestExpiry ?? Infinity);
    this.add(r);
  }

  private add(r: TokenRevocation): void {
    const name = r.metadata.name;
    let count = 0;
    for (const entry of r.spec.tokens) if (this.addEntry(name, entry)) count++;
    this.entries += count;
    // Two documents of one name (possible in a file): the second's entries add to the first's.
    const before = this.sources.get(name);
    this.sources.set(name, before === undefined ? r.spec.tokens : [...before, ...r.spec.tokens]);
  }

  private addEntry(revocation: string, t: RevocationEntry): boolean {
    if (t.jti !== undefined) {
      if (this.byJti.has(t.jti)) this.shared.add(`j:${t.jti}`);
      this.byJti.set(t.jti, revocation);
    } else if (t.tokenSha256 !== undefined) {
      if (this.bySha256.has(t.tokenSha256)) this.shared.add(`s:${t.tokenSha256}`);
      this.bySha256.set(t.tokenSha256, revocation);
    } else if (t.subject !== undefined) {
      // An unparsable issuedBefore (impossible after validation) widens to every token, never narrows.
      const issuedBefore = t.issuedBefore === undefined ? undefined : parseRfc3339Seconds(t.issuedBefore);
      const entry: SubjectEntry = { revocation, issuer: t.issuer, issuedBefore };
      const list = this.bySubject.get(t.subject);
      // A new array, never a push: after `update` the previous set may share this list.
      this.bySubject.set(t.subject, list === undefined ? [entry] : [...list, entry]);
    } else if (t.sid !== undefined) {
      const entry: SidEntry = { revocation, issuer: t.issuer };
      const list = this.bySid.get(t.sid);
      this.bySid.set(t.sid, list === undefined ? [entry] : [...list, entry]);
    } else return false;
    return true;
  }

  /** Number of entries in force, for the `tokenwarden_revocations` gauge. */
  get size(): number {
    return this.entries;
  }

  /** When the earliest kept revocation expires: rebuild then to let it go. */
  get nextExpirySeconds(): number | undefined {
    return this.earliestExpiry;
  }

  /** Name of a revocation matching the token, or undefined. */
  match(t: TokenIdentity): string | undefined {
    if (t.jti !== undefined) {
      const byJti = this.byJti.get(t.jti);
      if (byJti !== undefined) return byJti;
    }
    const bySha = this.bySha256.get(t.tokenSha256);
    if (bySha !== undefined) return bySha;
    if (t.sub !== undefined) {
      const entries = this.bySubject.get(t.sub);
      if (entries !== undefined) {
        for (let i = 0; i < entries.length; i++) {
          const entry = entries[i] as SubjectEntry;
          if (subjectEntryMatches(entry, t.iss, t.iat)) return entry.revocation;
        }
      }
    }
    return t.sid === undefined ? undefined : this.matchSid(t.sid, t.iss);
  }

  private matchSid(sid: string, iss: string): string | undefined {
    const entries = this.bySid.get(sid);
    if (entries === undefined) return undefined;
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i] as SidEntry;
      if (entry.issuer === undefined || entry.issuer === iss) return entry.revocation;
    }
    return undefined;
  }
}
