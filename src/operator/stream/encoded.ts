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

/**
 * The bodies of one owner (a change, a policy's config state) at one generation, by spelling:
 * the proof they carry differs (none, full with the chain, compact naming it; and the chain of
 * the certificate in force), never the rest. A handful per version, whatever the sessions.
 */
interface Cached {
  readonly generation: number;
  readonly bodies: Map<string, Buffer>;
}

const deltas = new WeakMap<BundleChange, Cached>();
const snapshots = new WeakMap<object, Cached>();

function cached(
  cache: WeakMap<object, Cached>,
  owner: object,
  generation: number,
  spelling: string,
  build: () => Buffer,
): Buffer {
  let hit = cache.get(owner);
  if (hit === undefined || hit.generation !== generation)
    cache.set(owner, (hit = { generation, bodies: new Map() }));
  let body = hit.bodies.get(spelling);
  if (body === undefined) hit.bodies.set(spelling, (body = build()));
  return body;
}

/**
 * The shared tail of a delta line for `change` at `generation`; `extra` (the operator's proof,
 * which depends only on the policy, the version and the certificate, in the form `spelling`
 * names) is only read on a miss.
 */
export function deltaBody(
  change: BundleChange,
  generation: number,
  spelling = '',
  extra: () => object = () => ({}),
): Buffer {
  return cached(deltas, change, generation, spelling, () => tail({ generation, ...change, ...extra() }));
}

/**
 * The shared tail of a snapshot line of `owner` (the policy's config state) at `generation`;
 * `config` is only called on a miss (once per version and spelling).
 */
export function snapshotBody(
  owner: object,
  generation: number,
  version: string,
  config: () => PolicyBundle,
  spelling = '',
  extra: () => object = () => ({}),
): Buffer {
  return cached(snapshots, owner, generation, spelling, () =>
    tail({ generation, version, config: config(), ...extra() }),
  );
}
