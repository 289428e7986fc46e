/**
 * The snapshot file a sidecar keeps in `--state-dir` (docs/contracts/in-cluster.md): the full
 * configuration it enforces, so that a restart while the operator is unreachable starts from
 * the last applied state instead of refusing every request. Pure: encoding and decoding only;
 * the atomic write lives with the sidecar (src/sidecar/control-plane/snapshot-file.ts).
 *
 *   {"format":"tokenwarden.dev/snapshot/v1","version":V,"savedAt":ISO,"sha256":H,"config":{…}}
 *
 * `sha256` is over the JSON text of `config` exactly as written (config is the last member, so
 * the text is recovered by position without re-serialising 100k revocations). A file that is
 * not whole (truncated, edited, bit-flipped) fails the hash and is refused whole: a half-read
 * revocation list would silently re-admit tokens.
 */
import { createHash } from 'node:crypto';
import type { StreamConfig } from './protocol.js';

export const SNAPSHOT_FORMAT = 'tokenwarden.dev/snapshot/v1';
export const SNAPSHOT_FILE = 'snapshot.json';

export interface SnapshotFile {
  format: typeof SNAPSHOT_FORMAT;
  /** The stream version the config was at (sent back as `?version=` on reconnect). */
  version: string;
  /** RFC 3339. */
  savedAt: string;
  /** Lower-case hex SHA-256 of the `config` member's JSON text. */
  sha256: string;
  config: StreamConfig;
}

export type Decoded = { ok: true; value: SnapshotFile } | { ok: false; error: string };

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The file's text for `config` at `version`. */
export function encodeSnapshot(version: string, config: StreamConfig, savedAt: Date): string {
  const configText = JSON.stringify(config);
  const head = JSON.stringify({
    format: SNAPSHOT_FORMAT,
    version,
    savedAt: savedAt.toISOString(),
    sha256: sha256Hex(configText),
  });
  // `{…head…,"config":<configText>}\n`: config last, so decode can hash its exact text.
  return `${head.slice(0, -1)},"config":${configText}}\n`;
}

const CONFIG_MEMBER = ',"config":';

/** Parses and checks a snapshot file; any defect refuses the whole file. */
export function decodeSnapshot(text: string): Decoded {
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
  if (s.format !== SNAPSHOT_FORMAT)
    return { ok: false, error: `unknown format ${JSON.stringify(s.format)} (expected ${SNAPSHOT_FORMAT})` };
  if (typeof s.version !== 'string' || s.version === '') return { ok: false, error: 'version: missing' };
  if (typeof s.savedAt !== 'string' || Number.isNaN(Date.parse(s.savedAt)))
    return { ok: false, error: 'savedAt: not a time' };
  if (typeof s.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(s.sha256))
    return { ok: false, error: 'sha256: missing or malformed' };
  const at = body.indexOf(CONFIG_MEMBER);
  if (at < 0 || !body.endsWith('}')) return { ok: false, error: 'config: missing' };
  const configText = body.slice(at + CONFIG_MEMBER.length, -1);
  if (sha256Hex(configText) !== s.sha256)
    return { ok: false, error: 'checksum mismatch: the config is not what was written' };
  const c = s.config as Record<string, unknown> | null;
  if (
    typeof c !== 'object' ||
    c === null ||
    typeof c.policy !== 'object' ||
    c.policy === null ||
    typeof c.keys !== 'object' ||
    c.keys === null ||
    !Array.isArray(c.revocations)
  )
    return { ok: false, error: 'config: must hold policy, keys and revocations' };
  return { ok: true, value: s as unknown as SnapshotFile };
}
