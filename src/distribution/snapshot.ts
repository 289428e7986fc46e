/**
 * The snapshot file a sidecar keeps in `--state-dir` (docs/contracts/in-cluster.md): the full
 * configuration it enforces, so that a restart while the operator is unreachable starts from
 * the last applied state instead of refusing every request. Pure: encoding, decoding and the
 * checks; the file I/O lives with the sidecar (src/sidecar/control-plane/snapshot-file.ts).
 *
 *   {"format":"tokenwarden.dev/snapshot/v2","version":V,"savedAt":ISO,"proof":{…},"config":{…}}
 *
 * Trusted only as far as the operator vouches for it (ADR 0012): `version` must be the content
 * hash of `config` (version.ts `contentVersion`, recomputed here, never read from the file),
 * and `proof` the operator's signature over that version and the policy's name, checked
 * against the CA the sidecar pins from its pod spec. A file that is not whole, edited,
 * re-versioned, signed by anyone else, or for a policy of another namespace is refused whole:
 * a half-trusted revocation list would silently re-admit tokens. `savedAt` is not signed; it
 * only feeds the staleness gauge.
 */
import { checkProofShape, verifyAttestation, type Proof, type Trust } from './attestation.js';
import type { PolicyBundle } from './protocol.js';
import { contentVersion } from './version.js';

export const SNAPSHOT_FORMAT = 'tokenwarden.dev/snapshot/v2';
/** The unsigned format of earlier releases: never trusted (a restart waits for the operator). */
const UNSIGNED_FORMAT = 'tokenwarden.dev/snapshot/v1';
export const SNAPSHOT_FILE = 'snapshot.json';

export interface SnapshotFile {
  format: typeof SNAPSHOT_FORMAT;
  /** The content hash of `config` (sent back as `?version=` on reconnect). */
  version: string;
  /** RFC 3339. */
  savedAt: string;
  proof: Proof;
  config: PolicyBundle;
}

export type Decoded = { ok: true; value: SnapshotFile } | { ok: false; error: string };

/** `namespace/name` of a config's policy: what the proof names. */
export function policyKeyOf(config: Pick<PolicyBundle, 'policy'>): string {
  const m = config.policy.metadata;
  return `${m.namespace ?? ''}/${m.name}`;
}

/** The file's text for `config` at `version`, vouched for by `proof`. */
export function encodeSnapshot(version: string, proof: Proof, config: PolicyBundle, savedAt: Date): string {
  const file: SnapshotFile = {
    format: SNAPSHOT_FORMAT,
    version,
    savedAt: savedAt.toISOString(),
    proof,
    config,
  };
  return `${JSON.stringify(file)}\n`;
}

export interface Expect {
  readonly trust: Trust | undefined;
  /** The pod's namespace (downward API): a policy of another namespace is refused. */
  readonly namespace: string | undefined;
}

/** Parses and checks a snapshot file; any defect refuses the whole file. */
export function decodeSnapshot(text: string, expect: Expect): Decoded {
  const body = text.endsWith('\n') ? text.slice(0, -1) : text;
  if (body.length === 0) return { ok: false, error: 'the file is empty' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { ok: false, error: 'the file is not complete JSON (truncated or corrupt)' };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    return { ok: false, error: 'the file is not a JSON object' };
  const s = parsed as Record<string, unknown>;
  if (s.format === UNSIGNED_FORMAT)
    return { ok: false, error: `format ${UNSIGNED_FORMAT} carries no operator signature` };
  if (s.format !== SNAPSHOT_FORMAT)
    return { ok: false, error: `unknown format ${JSON.stringify(s.format)} (expected ${SNAPSHOT_FORMAT})` };
  if (typeof s.version !== 'string' || s.version === '') return { ok: false, error: 'version: missing' };
  if (typeof s.savedAt !== 'string' || Number.isNaN(Date.parse(s.savedAt)))
    return { ok: false, error: 'savedAt: not a time' };
  const shape = checkProofShape(s.proof, 'proof');
  if (shape !== undefined) return { ok: false, error: shape };
  const c = s.config as Record<string, unknown> | null;
  if (
    typeof c !== 'object' ||
    c === null ||
    typeof c.policy !== 'object' ||
    c.policy === null ||
    typeof (c.policy as { metadata?: { name?: unknown } }).metadata?.name !== 'string' ||
    typeof c.keys !== 'object' ||
    c.keys === null ||
    !Array.isArray(c.revocations) ||
    !c.revocations.every(
      (r: unknown) => typeof (r as { metadata?: { name?: unknown } } | null)?.metadata?.name === 'string',
    )
  )
    return { ok: false, error: 'config: must hold policy, keys and named revocations' };
  const file = s as unknown as SnapshotFile;
  if (contentVersion(file.config) !== file.version)
    return { ok: false, error: 'version: the config does not hash to it (edited or re-versioned)' };
  const policy = policyKeyOf(file.config);
  const ns = file.config.policy.metadata.namespace;
  if (expect.namespace !== undefined && ns !== expect.namespace)
    return { ok: false, error: `config.policy: of namespace ${JSON.stringify(ns)}, not the pod's` };
  if (expect.trust === undefined)
    return {
      ok: false,
      error: 'no pinned control-plane CA (--control-plane-ca) to check the signature with',
    };
  const checked = verifyAttestation(file.proof, { policy, version: file.version }, expect.trust);
  return checked.ok ? { ok: true, value: file } : { ok: false, error: checked.error };
}
