/**
 * Content hashing of a policy bundle: the `version` of the protocol. Two replicas holding the
 * same policy, keys and revocations compute the same version whatever order their informers saw
 * things in, so a sidecar moving from one replica to another gets a delta, not a snapshot.
 * Pure.
 */
import { createHash } from 'node:crypto';

/** JSON with object keys sorted at every level: equal content, equal text. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const parts: string[] = [];
  for (const k of Object.keys(obj).sort()) {
    if (obj[k] === undefined) continue;
    parts.push(`${JSON.stringify(k)}:${canonicalJson(obj[k])}`);
  }
  return `{${parts.join(',')}}`;
}

export function digest(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}

/**
 * The version of a bundle from the digests of its parts. Revocations are given as
 * `[name, digest]` pairs (any order): hashing digests, not documents, keeps a change to one
 * revocation among 100,000 from re-serialising the other 99,999.
 */
export function bundleVersion(
  policyDigest: string,
  keysDigest: string,
  revocations: Iterable<readonly [string, string]>,
): string {
  const h = createHash('sha256').update(`p:${policyDigest}\nk:${keysDigest}\n`);
  const sorted = [...revocations].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  for (const [name, d] of sorted) h.update(`r:${name}:${d}\n`);
  // 128 bits in base64url: short on the wire, far from colliding.
  return h.digest().subarray(0, 16).toString('base64url');
}

/** Digests per document object: a document kept across versions is hashed once. */
const documentDigests = new WeakMap<object, string>();

function documentDigest(doc: object): string {
  let d = documentDigests.get(doc);
  if (d === undefined) {
    d = digest(doc);
    documentDigests.set(doc, d);
  }
  return d;
}

/**
 * The version of a whole bundle, computed from its content: what the operator names a bundle
 * and what a sidecar recomputes from what it holds before it acknowledges it or trusts a
 * snapshot file. Revocations are keyed by `metadata.name`.
 */
export function contentVersion(config: {
  readonly policy: object;
  readonly keys: object;
  readonly revocations: Iterable<{ readonly metadata: { readonly name: string } }>;
}): string {
  const revocations: [string, string][] = [];
  for (const r of config.revocations) revocations.push([r.metadata.name, documentDigest(r)]);
  return bundleVersion(documentDigest(config.policy), digest(config.keys), revocations);
}
