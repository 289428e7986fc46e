/**
 * One policy's feed: the bundle this replica serves for it (PolicyBundle), its version, a
 * replica-local sequence number, and a short history of changes so a sidecar reconnecting with
 * a recent version gets a delta rather than a snapshot. Pure bookkeeping; no I/O, no clock.
 */
import type { JWK } from 'jose';
import type { Proof } from '../../distribution/attestation.js';
import type { PolicyBundle } from '../../distribution/protocol.js';
import { bundleVersion, digest } from '../../distribution/version.js';
import type { TokenPolicy, TokenRevocation } from '../../policy/types.js';

type Keys = Record<string, { keys: JWK[] }>;

/** What changed between two versions: the body of a `delta` message. */
export interface BundleChange {
  readonly base: string;
  readonly version: string;
  readonly policy?: TokenPolicy;
  readonly keys?: Keys;
  readonly revocationsUpserted?: TokenRevocation[];
  readonly revocationsRemoved?: string[];
}

interface HistoryEntry {
  readonly change: BundleChange;
  readonly seq: number;
}

/** Versions kept to answer `?version=` with a delta; older ones get a snapshot. */
export const HISTORY = 32;

/**
 * Generations whose version is remembered to judge acks (sent.ts): an ack naming an older one
 * is refused and the sidecar's next ack catches up. 1,024 is 100 s of changes at 10 a second,
 * kept once per policy rather than per session.
 */
export const GENERATIONS_KEPT = 1024;

/** Digests per revocation object: unchanged objects (same reference) are never re-hashed. */
const revocationDigests = new WeakMap<TokenRevocation, string>();

function revocationDigest(r: TokenRevocation): string {
  let d = revocationDigests.get(r);
  if (d === undefined) {
    d = digest(r);
    revocationDigests.set(r, d);
  }
  return d;
}

export class PolicyFeed {
  private policy: TokenPolicy;
  private keys: Keys;
  private policyDigest: string;
  private keysDigest: string;
  private readonly revocations = new Map<string, { rev: TokenRevocation; digest: string }>();
  private currentVersion: string;
  /** Moves by one per version change on this replica. */
  private currentSeq = 1;
  private readonly history: HistoryEntry[] = [];
  /** seq of every version still in the history (and the current one). */
  private readonly seqs = new Map<string, number>();
  /** seq → the version it named, for the last GENERATIONS_KEPT seqs (insertion-ordered). */
  private readonly versionsBySeq = new Map<number, string>();

  /** `attest`: the operator's signature over a version of this policy (signer.ts). */
  constructor(
    bundle: PolicyBundle,
    private readonly attest: (version: string) => Proof | undefined = () => undefined,
  ) {
    this.policy = bundle.policy;
    this.keys = bundle.keys;
    this.policyDigest = digest(bundle.policy);
    this.keysDigest = digest(bundle.keys);
    for (const r of bundle.revocations)
      this.revocations.set(r.metadata.name, { rev: r, digest: revocationDigest(r) });
    this.currentVersion = this.computeVersion();
    this.seqs.set(this.currentVersion, this.currentSeq);
    this.versionsBySeq.set(this.currentSeq, this.currentVersion);
  }

  get version(): string {
    return this.currentVersion;
  }

  /** The signature over the current version, if this replica signs. */
  proof(): Proof | undefined {
    return this.attest(this.currentVersion);
  }

  get seq(): number {
    return this.currentSeq;
  }

  /** The version this feed held at `seq`, if still remembered (the last GENERATIONS_KEPT). */
  versionAt(seq: number): string | undefined {
    return this.versionsBySeq.get(seq);
  }

  /** The replica-local seq of `version`, if this replica still remembers it. */
  seqOf(version: string): number | undefined {
    return this.seqs.get(version);
  }

  get revocationCount(): number {
    return this.revocations.size;
  }

  snapshot(): PolicyBundle {
    return {
      policy: this.policy,
      keys: this.keys,
      revocations: [...this.revocations.values()].map((e) => e.rev),
    };
  }

  /**
   * Moves to `next`. Returns what changed, or undefined when the content (hence the version)
   * is the same. `revocations` are the full list that applies now.
   */
  update(next: PolicyBundle): BundleChange | undefined {
    const base = this.currentVersion;
    const policyDigest = digest(next.policy);
    const keysDigest = digest(next.keys);
    const upserted: TokenRevocation[] = [];
    const seen = new Set<string>();
    for (const r of next.revocations) {
      const name = r.metadata.name;
      seen.add(name);
      const d = revocationDigest(r);
      if (this.revocations.get(name)?.digest !== d) upserted.push(r);
    }
    const removed = [...this.revocations.keys()].filter((n) => !seen.has(n));
    const policyChanged = policyDigest !== this.policyDigest;
    const keysChanged = keysDigest !== this.keysDigest;
    if (!policyChanged && !keysChanged && upserted.length === 0 && removed.length === 0) return undefined;

    this.policy = next.policy;
    this.keys = next.keys;
    this.policyDigest = policyDigest;
    this.keysDigest = keysDigest;
    for (const n of removed) this.revocations.delete(n);
    for (const r of upserted) this.revocations.set(r.metadata.name, { rev: r, digest: revocationDigest(r) });
    this.currentVersion = this.computeVersion();
    if (this.currentVersion === base) return undefined;
    this.currentSeq++;
    this.seqs.set(this.currentVersion, this.currentSeq);
    this.versionsBySeq.set(this.currentSeq, this.currentVersion);
    if (this.versionsBySeq.size > GENERATIONS_KEPT)
      this.versionsBySeq.delete(this.currentSeq - GENERATIONS_KEPT);
    const change: BundleChange = {
      base,
      version: this.currentVersion,
      ...(policyChanged ? { policy: next.policy } : {}),
      ...(keysChanged ? { keys: next.keys } : {}),
      ...(upserted.length > 0 ? { revocationsUpserted: upserted } : {}),
      ...(removed.length > 0 ? { revocationsRemoved: removed } : {}),
    };
    this.history.push({ change, seq: this.currentSeq });
    if (this.history.length > HISTORY) {
      const dropped = this.history.shift();
      if (dropped !== undefined) this.seqs.delete(dropped.change.base);
    }
    return change;
  }

  /**
   * The change from `version` to the current one, composed from the history; undefined when
   * `version` is not remembered (the caller sends a snapshot). From the current version: an
   * empty change.
   */
  changeFrom(version: string): BundleChange | undefined {
    if (version === this.currentVersion) return { base: version, version };
    const start = this.history.findIndex((h) => h.change.base === version);
    if (start < 0) return undefined;
    let policy: TokenPolicy | undefined;
    let keys: Keys | undefined;
    const revs = new Map<string, TokenRevocation | null>();
    for (const { change } of this.history.slice(start)) {
      if (change.policy !== undefined) policy = change.policy;
      if (change.keys !== undefined) keys = change.keys;
      for (const r of change.revocationsUpserted ?? []) revs.set(r.metadata.name, r);
      for (const n of change.revocationsRemoved ?? []) revs.set(n, null);
    }
    const upserted: TokenRevocation[] = [];
    const removed: string[] = [];
    for (const [name, r] of revs) {
      if (r === null) removed.push(name);
      else upserted.push(r);
    }
    return {
      base: version,
      version: this.currentVersion,
      ...(policy === undefined ? {} : { policy }),
      ...(keys === undefined ? {} : { keys }),
      ...(upserted.length > 0 ? { revocationsUpserted: upserted } : {}),
      ...(removed.length > 0 ? { revocationsRemoved: removed } : {}),
    };
  }

  private computeVersion(): string {
    return bundleVersion(
      this.policyDigest,
      this.keysDigest,
      [...this.revocations].map(([name, e]) => [name, e.digest] as const),
    );
  }
}
