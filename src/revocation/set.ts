/**
 * The revocation set of one policy: which tokens are refused as `revoked`. Built from the
 * TokenRevocations of the cluster (or of a standalone file) whenever they change; matched on
 * every request, cache hit or not, in O(1) per entry kind (jti, tokenSha256, subject).
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
  iss: string;
  iat?: number;
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

export class RevocationSet {
  /** Entry value → name of the revocation it came from. */
  private readonly byJti = new Map<string, string>();
  private readonly bySha256 = new Map<string, string>();
  private readonly bySubject = new Map<string, SubjectEntry[]>();
  private entries = 0;
  private earliestExpiry: number | undefined;

  private constructor() {}

  static empty(): RevocationSet {
    return new RevocationSet();
  }

  /** The revocations that apply to `policy` at `nowSeconds` (see the file comment). */
  static build(
    revocations: readonly TokenRevocation[],
    policy: { name: string; namespace: string },
    nowSeconds: number,
  ): RevocationSet {
    const set = new RevocationSet();
    for (const r of revocations) {
      if (!appliesTo(r, policy)) continue;
      const atMs = expiryMs(r.spec.expiresAt);
      // Unparsable (impossible after validation): never expires, the entries stay (rule.ts).
      const expiresAt = atMs === undefined ? undefined : atMs / 1000;
      if (expiryPassed(expiresAt, nowSeconds)) continue;
      if (expiresAt !== undefined) set.earliestExpiry = Math.min(expiresAt, set.earliestExpiry ?? Infinity);
      set.add(r);
    }
    return set;
  }

  private add(r: TokenRevocation): void {
    for (const entry of r.spec.tokens) if (this.addEntry(r.metadata.name, entry)) this.entries++;
  }

  private addEntry(revocation: string, t: RevocationEntry): boolean {
    if (t.jti !== undefined) this.byJti.set(t.jti, revocation);
    else if (t.tokenSha256 !== undefined) this.bySha256.set(t.tokenSha256, revocation);
    else if (t.subject !== undefined) {
      // An unparsable issuedBefore (impossible after validation) widens to every token, never narrows.
      const issuedBefore = t.issuedBefore === undefined ? undefined : parseRfc3339Seconds(t.issuedBefore);
      const entry: SubjectEntry = { revocation, issuer: t.issuer, issuedBefore };
      const list = this.bySubject.get(t.subject);
      if (list === undefined) this.bySubject.set(t.subject, [entry]);
      else list.push(entry);
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
    if (t.sub === undefined) return undefined;
    const entries = this.bySubject.get(t.sub);
    if (entries === undefined) return undefined;
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i] as SubjectEntry;
      if (subjectEntryMatches(entry, t.iss, t.iat)) return entry.revocation;
    }
    return undefined;
  }
}
