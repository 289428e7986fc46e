/**
 * The operator → sidecar configuration stream: message shapes shared by both ends (NDJSON, one
 * message per line). The contract is docs/contracts/in-cluster.md; the framing decision is ADR
 * 0005. Pure: no I/O here.
 *
 * The receiving side never trusts a line: `parseServerMessage` checks the envelope and the
 * sidecar validates `policy` and every revocation with the same validators as a policy file
 * before compiling, so a stream can never install what a file could not.
 */
import type { JWK } from 'jose';
import type { TokenPolicy, TokenRevocation } from '../policy/types.js';
import { checkProofShape, type WireProof } from './attestation.js';

export const STREAM_PATH = '/v1/config';
export const ACK_PATH = '/v1/ack';
export const KEYS_REFRESH_PATH = '/v1/keys/refresh';
/**
 * Request header of a stream: `compact` asks for proofs whose certificate chain is sent once per
 * session and then named by its hash (about 1.2 KB less per line). Without it, every proof
 * carries its chain (what sidecars that predate compact proofs read).
 */
export const PROOFS_HEADER = 'tokenwarden-proofs';
export const STREAM_CONTENT_TYPE = 'application/x-ndjson';
/** The audience of the projected ServiceAccount token a sidecar presents. */
export const TOKEN_AUDIENCE = 'tokenwarden';
export const HEARTBEAT_INTERVAL_MS = 5_000;
/**
 * Least time between two acks of one sidecar: the acks of a burst of changes are folded into one
 * (control-plane/ack-pacer.ts); the first ack after a quiet spell goes at once.
 */
export const ACK_MIN_INTERVAL_MS = 250;
/** Silence after which either end declares the peer dead. */
export const PEER_TIMEOUT_MS = 15_000;

/**
 * Everything a sidecar needs to enforce one policy (the policy, its issuers' keys, its
 * revocations); the unit a snapshot carries, in its `config` field (the wire name is kept).
 */
export interface PolicyBundle {
  policy: TokenPolicy;
  /** Resolved public keys per issuer (`iss` value). */
  keys: Record<string, { keys: JWK[] }>;
  revocations: TokenRevocation[];
}

export interface SnapshotMessage {
  type: 'snapshot';
  session: string;
  generation: number;
  version: string;
  config: PolicyBundle;
  /**
   * The operator's signature over `version` (attestation.ts); what a snapshot file keeps. Compact
   * (the chain named, not carried) only on a session that asked for it and was sent that chain.
   */
  proof?: WireProof;
}

export interface DeltaMessage {
  type: 'delta';
  session: string;
  generation: number;
  version: string;
  /** The version this delta applies on top of. */
  base: string;
  /** The operator's signature over `version` (the whole bundle after this delta); see above. */
  proof?: WireProof;
  policy?: TokenPolicy;
  keys?: Record<string, { keys: JWK[] }>;
  revocationsUpserted?: TokenRevocation[];
  /** Names (in the policy's namespace) of revocations that no longer apply. */
  revocationsRemoved?: string[];
}

export interface HeartbeatMessage {
  type: 'heartbeat';
  at: number;
}

export type ServerMessage = SnapshotMessage | DeltaMessage | HeartbeatMessage;

/**
 * Sent with the same bearer token as the stream (the pod's projected ServiceAccount token):
 * the session id alone is no credential. `version` is the content hash the sidecar computed
 * from what it holds (version.ts `contentVersion`); it counts only when it is exactly the
 * version sent at `generation` on that session.
 */
export interface AckRequest {
  session: string;
  generation: number;
  version: string;
}

/**
 * An ack as a line of the stream's request body (`POST /v1/config`, ADR 0011): no session id,
 * the connection is the session, and no token, the stream's own authenticated it. Counted under
 * the same rule as an `AckRequest`: only an exact (generation, version) the session was sent.
 */
export interface StreamAck {
  type: 'ack';
  generation: number;
  version: string;
}

/**
 * Longest ack line, newline included. A version is at most 128 base64url characters and a
 * generation at most 16 digits, so every ack `encodeStreamAck` writes fits with room to spare;
 * the operator holds no more than this of a partial line.
 */
export const MAX_STREAM_ACK_BYTES = 256;
const MAX_VERSION_CHARS = 128;
const VERSION_PATTERN = /^[A-Za-z0-9_-]+$/;

export interface KeysRefreshRequest {
  session: string;
  issuer: string;
  kid: string;
}

export type StreamRefusalReason =
  | 'token_invalid'
  | 'not_a_pod_token'
  | 'pod_not_found'
  | 'no_policy'
  | 'not_ready'
  | 'session_gone'
  /** An ack or key refresh whose token is another pod's than the session's. */
  | 'wrong_pod'
  /** An ack naming a generation/version pair the session was never sent. */
  | 'unsent_version';

export interface StreamRefusal {
  reason: StreamRefusalReason;
  message: string;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isNonEmptyString = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
const isGeneration = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/**
 * One message as one stream line (JSON and a newline). The only writer of the framing, next to
 * its only reader: whatever this writes, `parseServerMessage` reads back.
 */
export function encodeServerMessage(message: ServerMessage): string {
  return `${JSON.stringify(message)}\n`;
}

/** One ack as one line of the request body; throws on an ack `parseStreamAck` would refuse. */
export function encodeStreamAck(ack: Omit<StreamAck, 'type'>): string {
  const problem = checkStreamAck(ack.generation, ack.version);
  if (problem !== undefined) throw new Error(`not an ack: ${problem}`);
  return `{"type":"ack","generation":${ack.generation},"version":"${ack.version}"}\n`;
}

/** The one form `encodeStreamAck` writes; its generation is range-checked after the match. */
const STREAM_ACK_LINE =
  /^\{"type":"ack","generation":(0|[1-9][0-9]{0,15}),"version":"([A-Za-z0-9_-]{1,128})"\}$/;

/**
 * One line of a stream's request body, strictly: exactly the line `encodeStreamAck` writes
 * (`type` "ack", `generation` a non-negative safe integer, `version` 1 to 128 base64url
 * characters, in that order, no spaces), so a line parses only if it is some ack's encoding.
 * A refused line is read again only to name the field at fault.
 */
export function parseStreamAck(line: string): Parsed<StreamAck> {
  const m = STREAM_ACK_LINE.exec(line);
  const generation = Number(m?.[1]);
  if (m !== null && Number.isSafeInteger(generation))
    return { ok: true, value: { type: 'ack', generation, version: m[2] as string } };
  return { ok: false, error: streamAckProblem(line) };
}

function streamAckProblem(line: string): string {
  // The newline the splitter cut counts against the bound too.
  if (Buffer.byteLength(line, 'utf8') + 1 > MAX_STREAM_ACK_BYTES)
    return `line: longer than ${MAX_STREAM_ACK_BYTES} bytes`;
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return 'line: not JSON';
  }
  if (!isObject(value)) return 'ack: must be an object';
  for (const key of Object.keys(value))
    if (key !== 'type' && key !== 'generation' && key !== 'version')
      // A name from the peer goes into a log line only when it is a plain one.
      return /^[A-Za-z0-9_]{1,64}$/.test(key) ? `${key}: unknown field` : 'ack: an unknown field';
  if (value.type !== 'ack') return 'type: must be "ack"';
  return (
    checkStreamAck(value.generation, value.version) ??
    'line: not in the form {"type":"ack","generation":N,"version":"V"} (that order, no spaces)'
  );
}

function checkStreamAck(generation: unknown, version: unknown): string | undefined {
  if (!isGeneration(generation)) return 'generation: must be a non-negative integer';
  if (typeof version !== 'string' || version.length === 0 || version.length > MAX_VERSION_CHARS)
    return `version: must be 1 to ${MAX_VERSION_CHARS} characters`;
  if (!VERSION_PATTERN.test(version)) return 'version: must be base64url';
  return undefined;
}

/**
 * Checks one stream line's envelope. The policy and revocation bodies are validated by the
 * caller with the policy validators (they need the field-path error messages).
 */
export function parseServerMessage(line: string): Parsed<ServerMessage> {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { ok: false, error: 'line is not JSON' };
  }
  if (!isObject(value)) return { ok: false, error: 'message is not an object' };
  switch (value.type) {
    case 'heartbeat':
      return typeof value.at === 'number'
        ? { ok: true, value: { type: 'heartbeat', at: value.at } }
        : { ok: false, error: 'heartbeat.at: must be a number' };
    case 'snapshot': {
      const head = checkHead(value);
      if (head) return { ok: false, error: `snapshot.${head}` };
      const config = value.config;
      if (!isObject(config)) return { ok: false, error: 'snapshot.config: must be an object' };
      if (!isObject(config.policy)) return { ok: false, error: 'snapshot.config.policy: must be an object' };
      if (!isKeyMap(config.keys))
        return { ok: false, error: 'snapshot.config.keys: must map issuers to { keys: [...] }' };
      if (!Array.isArray(config.revocations) || !config.revocations.every(isObject))
        return { ok: false, error: 'snapshot.config.revocations: must be an array of objects' };
      return { ok: true, value: value as unknown as SnapshotMessage };
    }
    case 'delta': {
      const head = checkHead(value);
      if (head) return { ok: false, error: `delta.${head}` };
      if (!isNonEmptyString(value.base))
        return { ok: false, error: 'delta.base: must be a non-empty string' };
      if (value.policy !== undefined && !isObject(value.policy))
        return { ok: false, error: 'delta.policy: must be an object' };
      if (value.keys !== undefined && !isKeyMap(value.keys))
        return { ok: false, error: 'delta.keys: must map issuers to { keys: [...] }' };
      if (
        value.revocationsUpserted !== undefined &&
        (!Array.isArray(value.revocationsUpserted) || !value.revocationsUpserted.every(isObject))
      )
        return { ok: false, error: 'delta.revocationsUpserted: must be an array of objects' };
      if (
        value.revocationsRemoved !== undefined &&
        (!Array.isArray(value.revocationsRemoved) || !value.revocationsRemoved.every(isNonEmptyString))
      )
        return { ok: false, error: 'delta.revocationsRemoved: must be an array of names' };
      return { ok: true, value: value as unknown as DeltaMessage };
    }
    default:
      return { ok: false, error: `type: unknown message type ${JSON.stringify(value.type)}` };
  }
}

function checkHead(value: Record<string, unknown>): string | undefined {
  if (!isNonEmptyString(value.session)) return 'session: must be a non-empty string';
  if (!isGeneration(value.generation)) return 'generation: must be a non-negative integer';
  if (!isNonEmptyString(value.version)) return 'version: must be a non-empty string';
  if (value.proof !== undefined) return checkProofShape(value.proof, 'proof', true);
  return undefined;
}

function isKeyMap(v: unknown): v is Record<string, { keys: JWK[] }> {
  return isObject(v) && Object.values(v).every((set) => isObject(set) && Array.isArray(set.keys));
}
