/**
 * One serialisation per version, shared by every session. A stream line is
 * `{"type":…,"session":"<id>",` (per session, a few dozen bytes) followed by the rest of the
 * message, serialised once per (config, generation) into a Buffer that every session's socket
 * writes as is: a push to a thousand sidecars costs one JSON.stringify, not a thousand, and no
 * per-session copy of the body. The line still parses as the one message
 * `encodeServerMessage` would write (same fields; JSON does not order them).
 */
import type { PolicyBundle } from '../../distribution/protocol.js';
import type { BundleChange } from './policy-feed.js';

/** The per-session head: the session id is base64url (nothing JSON would escape). */
export function lineHead(type: 'snapshot' | 'delta', session: string): string {
  return `{"type":"${type}","session":"${session}",`;
}

/** `{"a":1}` → `"a":1}\n` as bytes: the tail that completes a head into one line. */
function tail(fields: object): Buffer {
  const json = JSON.stringify(fields);
  return Buffer.from(`${json.slice(1)}\n`, 'utf8');
}

interface Cached {
  readonly generation: number;
  readonly body: Buffer;
}

const deltas = new WeakMap<BundleChange, Cached>();
const snapshots = new WeakMap<object, Cached>();

/**
 * The shared tail of a delta line for `change` at `generation`; `extra` (the operator's proof,
 * which depends only on the policy and the version) is only read on a miss.
 */
export function deltaBody(
  change: BundleChange,
  generation: number,
  extra: () => object = () => ({}),
): Buffer {
  const hit = deltas.get(change);
  if (hit !== undefined && hit.generation === generation) return hit.body;
  const body = tail({ generation, ...change, ...extra() });
  deltas.set(change, { generation, body });
  return body;
}

/**
 * The shared tail of a snapshot line of `owner` (the policy's config state) at `generation`;
 * `config` is only called on a miss (once per version).
 */
export function snapshotBody(
  owner: object,
  generation: number,
  version: string,
  config: () => PolicyBundle,
  extra: () => object = () => ({}),
): Buffer {
  const hit = snapshots.get(owner);
  if (hit !== undefined && hit.generation === generation) return hit.body;
  const body = tail({ generation, version, config: config(), ...extra() });
  snapshots.set(owner, { generation, body });
  return body;
}
