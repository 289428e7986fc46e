/**
 * A protocol peer for the sidecar's config stream: a real node:https server on 127.0.0.1 with
 * a test CA, speaking the operator's side of docs/contracts/in-cluster.md with the types of
 * src/distribution/protocol.ts (NDJSON, one message per line). Not a mock of our code: it holds
 * a config, hashes it into versions, answers `?version=` with a delta when it still has that
 * version (else a snapshot), sends heartbeats, takes acks on the stream (`POST /v1/config`, ack
 * lines on its request body) and by `POST /v1/ack`, key-refresh requests by session, and
 * refuses the way the contract says (401/403/404/503 with `{reason, message}`). With
 * `acksOnStream: false` it is an operator that predates acks on the stream: `POST /v1/config`
 * is a route it does not have (404, no `reason`).
 *
 * What it does not do is Kubernetes: a token is "valid" when the test registered it
 * (`allowToken`), standing in for the TokenReview and pod lookup of the real operator. Like
 * the operator it serves documents in the validators' form, names each config by its content
 * hash, and signs every version with its serving key (an acknowledgement is recorded with the
 * Authorization it came with; the real operator's checks are tested in test/integration).
 */
import { randomUUID } from 'node:crypto';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { JWK } from 'jose';
import {
  ACK_PATH,
  HEARTBEAT_INTERVAL_MS,
  KEYS_REFRESH_PATH,
  MAX_STREAM_ACK_BYTES,
  STREAM_CONTENT_TYPE,
  STREAM_PATH,
  parseStreamAck,
  type AckRequest,
  type DeltaMessage,
  type KeysRefreshRequest,
  type ServerMessage,
  type PolicyBundle,
  type StreamRefusalReason,
} from '../../src/distribution/protocol.js';
import { canonicalJson } from '../../src/policy/compile.js';
import { contentVersion } from '../../src/distribution/version.js';
import type { TokenPolicy, TokenRevocation } from '../../src/policy/types.js';
import { validatePolicy, validateRevocation } from '../../src/policy/validate.js';
import { LineSplitter } from '../../src/distribution/lines.js';
import { createCertificateAuthority, issueServingCertFrom } from '../integration/harness/pki.js';
import { signerFrom } from './attestation.js';

export interface Refusal {
  status: 401 | 403 | 404 | 503;
  reason: StreamRefusalReason;
  message: string;
}

export interface StreamServerOptions {
  policy: TokenPolicy;
  keys?: Record<string, { keys: JWK[] }>;
  revocations?: TokenRevocation[];
  heartbeatMs?: number;
  /** Reuse a port (a restarted "operator"); 0 picks one. */
  port?: number;
  /** Reuse a CA and certificate across restarts. */
  tls?: { caPem: string; certPem: string; keyPem: string };
  /** False: an operator that predates `POST /v1/config` (acks only by `POST /v1/ack`). */
  acksOnStream?: boolean;
}

export interface Connect {
  at: number;
  method: string;
  authorization: string | undefined;
  version: string | null;
  /** 200, or the refusal status. */
  status: number;
  sent: 'snapshot' | 'delta' | undefined;
}

export interface Ack extends AckRequest {
  at: number;
  /** The stream's Authorization for an ack on the stream; the POST's own otherwise. */
  authorization: string | undefined;
  via: 'stream' | 'post';
}

interface Session {
  id: string;
  res: ServerResponse;
  generation: number;
  lastAckAt: number;
}

export interface StreamServer {
  readonly url: string;
  readonly port: number;
  readonly caPem: string;
  readonly tls: { caPem: string; certPem: string; keyPem: string };
  readonly version: string;
  readonly connects: Connect[];
  readonly acks: Ack[];
  /** Why each refused ack line was refused (its stream was ended). */
  readonly badAcks: string[];
  readonly refreshRequests: (KeysRefreshRequest & { at: number })[];
  /** Open streams right now. */
  sessions(): number;
  allowToken(token: string): void;
  /** Every stream request is refused this way until `refuse(undefined)`. */
  refuse(refusal: Refusal | undefined): void;
  setPolicy(policy: TokenPolicy): void;
  setKeys(issuer: string, keys: JWK[]): void;
  upsertRevocation(r: TokenRevocation): void;
  removeRevocation(name: string): void;
  /** Sends a raw line to every open stream (protocol violations on purpose). */
  sendRaw(line: string): void;
  /** Like a SIGKILLed operator: the listener and every connection gone at once. */
  kill(): Promise<void>;
  /** Listen again on the same port with the same certificate and state. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export function versionOf(config: PolicyBundle): string {
  return contentVersion(config);
}

/** The validators' form, as the operator serves it (an invalid document is served as given). */
const asValidated = (p: TokenPolicy): TokenPolicy => {
  const v = validatePolicy(p, { standalone: false });
  return v.ok ? v.value : p;
};
const asValidRevocation = (r: TokenRevocation): TokenRevocation => {
  const v = validateRevocation(r);
  return v.ok ? v.value : r;
};

const REVOCATION_KEY = (r: TokenRevocation): string => r.metadata.name;

export async function startStreamServer(opts: StreamServerOptions): Promise<StreamServer> {
  const tls = opts.tls ?? (await makeTls());
  const signer = signerFrom(tls);
  let policy = asValidated(opts.policy);
  let keys: Record<string, { keys: JWK[] }> = { ...(opts.keys ?? {}) };
  const revocations = new Map<string, TokenRevocation>(
    (opts.revocations ?? []).map((r) => [REVOCATION_KEY(r), asValidRevocation(r)]),
  );
  const config = (): PolicyBundle => ({ policy, keys, revocations: [...revocations.values()] });
  /** Versions this "replica" can still send a delta from: version → config. */
  const history = new Map<string, PolicyBundle>();
  let version = versionOf(config());
  history.set(version, structuredClone(config()));
  let generation = 0;
  let refusal: Refusal | undefined;
  const tokens = new Set<string>();
  const sessions = new Map<string, Session>();
  const connects: Connect[] = [];
  const acks: Ack[] = [];
  const badAcks: string[] = [];
  const refreshRequests: (KeysRefreshRequest & { at: number })[] = [];
  const sockets = new Set<Socket>();

  const write = (s: Session, msg: ServerMessage | string): void => {
    s.res.write(`${typeof msg === 'string' ? msg : JSON.stringify(msg)}\n`);
  };

  /** The delta from `base` to the current config. */
  const deltaFrom = (base: string, s: Session): DeltaMessage => {
    const old = history.get(base) as PolicyBundle;
    const now = config();
    const d: DeltaMessage = {
      type: 'delta',
      session: s.id,
      generation: ++generation,
      version,
      base,
      proof: signer.proof(now),
    };
    if (canonicalJson(old.policy) !== canonicalJson(now.policy)) d.policy = now.policy;
    const changedKeys: Record<string, { keys: JWK[] }> = {};
    for (const [iss, set] of Object.entries(now.keys))
      if (canonicalJson(old.keys[iss]) !== canonicalJson(set)) changedKeys[iss] = set;
    if (Object.keys(changedKeys).length > 0) d.keys = changedKeys;
    const oldRevs = new Map(old.revocations.map((r) => [REVOCATION_KEY(r), r]));
    const upserted = now.revocations.filter(
      (r) => canonicalJson(oldRevs.get(REVOCATION_KEY(r))) !== canonicalJson(r),
    );
    const removed = [...oldRevs.keys()].filter((name) => !revocations.has(name));
    if (upserted.length > 0) d.revocationsUpserted = upserted;
    if (removed.length > 0) d.revocationsRemoved = removed;
    return d;
  };

  const changed = (): void => {
    const base = version;
    version = versionOf(config());
    if (version === base) return;
    history.set(version, structuredClone(config()));
    for (const s of sessions.values()) write(s, deltaFrom(base, s));
  };

  const refuseWith = (
    res: ServerResponse,
    r: { status: number; reason: StreamRefusalReason; message: string },
  ): void => {
    const body = JSON.stringify({ reason: r.reason, message: r.message });
    res.writeHead(r.status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  };

  const readJson = async (req: IncomingMessage): Promise<Record<string, unknown> | undefined> => {
    let text = '';
    for await (const chunk of req) text += String(chunk);
    try {
      const v = JSON.parse(text) as unknown;
      return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : undefined;
    } catch {
      return undefined;
    }
  };

  const onStream = (req: IncomingMessage, res: ServerResponse, url: URL): void => {
    const authorization = req.headers.authorization;
    const held = url.searchParams.get('version');
    const connect: Connect = {
      at: Date.now(),
      method: req.method ?? '',
      authorization,
      version: held,
      status: 200,
      sent: undefined,
    };
    connects.push(connect);
    const token = authorization?.startsWith('Bearer ') ? authorization.slice(7) : undefined;
    const refused: Refusal | undefined =
      refusal ??
      (token === undefined || !tokens.has(token)
        ? { status: 401, reason: 'token_invalid', message: 'the TokenReview did not authenticate the token' }
        : undefined);
    if (refused) {
      connect.status = refused.status;
      refuseWith(res, refused);
      return;
    }
    res.writeHead(200, { 'content-type': STREAM_CONTENT_TYPE, 'cache-control': 'no-store' });
    res.flushHeaders();
    const s: Session = { id: randomUUID(), res, generation: 0, lastAckAt: Date.now() };
    sessions.set(s.id, s);
    if (held !== null && history.has(held)) {
      connect.sent = 'delta';
      write(s, deltaFrom(held, s));
    } else {
      connect.sent = 'snapshot';
      const c = config();
      write(s, {
        type: 'snapshot',
        session: s.id,
        generation: ++generation,
        version,
        config: c,
        proof: signer.proof(c),
      });
    }
    res.on('close', () => sessions.delete(s.id));
    if (req.method === 'POST') takeAcks(req, s);
  };

  /** Ack lines on a stream's request body, as the operator reads them (stream-acks.ts). */
  const takeAcks = (req: IncomingMessage, s: Session): void => {
    const lines = new LineSplitter(MAX_STREAM_ACK_BYTES);
    req.on('error', () => undefined);
    req.on('data', (chunk: Buffer) => {
      const pushed = lines.push(chunk);
      const refuse = (error: string): void => {
        badAcks.push(error);
        s.res.end();
      };
      if (!pushed.ok) return refuse(pushed.error);
      for (const line of pushed.lines) {
        const ack = parseStreamAck(line);
        if (!ack.ok) return refuse(ack.error);
        s.lastAckAt = Date.now();
        const { generation, version } = ack.value;
        acks.push({
          session: s.id,
          generation,
          version,
          at: Date.now(),
          authorization: req.headers.authorization,
          via: 'stream',
        });
      }
    });
  };

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'https://x');
    if (req.method === 'GET' && url.pathname === STREAM_PATH) return onStream(req, res, url);
    if (req.method === 'POST' && url.pathname === STREAM_PATH && opts.acksOnStream !== false)
      return onStream(req, res, url);
    if (req.method === 'POST' && (url.pathname === ACK_PATH || url.pathname === KEYS_REFRESH_PATH)) {
      void readJson(req).then((body) => {
        const s = typeof body?.session === 'string' ? sessions.get(body.session) : undefined;
        if (s === undefined)
          return refuseWith(res, { status: 410, reason: 'session_gone', message: 'no such session here' });
        s.lastAckAt = Date.now();
        if (url.pathname === ACK_PATH)
          acks.push({
            ...(body as unknown as AckRequest),
            at: Date.now(),
            authorization: req.headers.authorization,
            via: 'post',
          });
        else refreshRequests.push({ ...(body as unknown as KeysRefreshRequest), at: Date.now() });
        res.writeHead(204);
        res.end();
      });
      return;
    }
    if (url.pathname === STREAM_PATH)
      connects.push({
        at: Date.now(),
        method: req.method ?? '',
        authorization: req.headers.authorization,
        version: url.searchParams.get('version'),
        status: 404,
        sent: undefined,
      });
    // What fastify answers for a route it does not have: no contract `reason`.
    const body = JSON.stringify({
      message: `Route ${req.method}:${url.pathname} not found`,
      statusCode: 404,
    });
    res.writeHead(404, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };

  let server: https.Server;
  let port = opts.port ?? 0;
  let heartbeat: NodeJS.Timeout | undefined;

  const listen = async (): Promise<void> => {
    server = https.createServer({ cert: tls.certPem, key: tls.keyPem }, handler);
    server.on('connection', (sock: Socket) => {
      sockets.add(sock);
      sock.on('close', () => sockets.delete(sock));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    port = (server.address() as AddressInfo).port;
    heartbeat = setInterval(() => {
      for (const s of sessions.values()) write(s, { type: 'heartbeat', at: Date.now() });
    }, opts.heartbeatMs ?? HEARTBEAT_INTERVAL_MS);
  };

  const kill = async (): Promise<void> => {
    clearInterval(heartbeat);
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const sock of sockets) sock.destroy();
    sessions.clear();
    await closed;
  };

  await listen();

  return {
    get url() {
      return `https://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    caPem: tls.caPem,
    tls,
    get version() {
      return version;
    },
    connects,
    acks,
    badAcks,
    refreshRequests,
    sessions: () => sessions.size,
    allowToken: (t) => void tokens.add(t),
    refuse: (r) => void (refusal = r),
    setPolicy(p) {
      policy = asValidated(p);
      changed();
    },
    setKeys(issuer, list) {
      keys = { ...keys, [issuer]: { keys: list } };
      changed();
    },
    upsertRevocation(r) {
      revocations.set(REVOCATION_KEY(r), asValidRevocation(r));
      changed();
    },
    removeRevocation(name) {
      revocations.delete(name);
      changed();
    },
    sendRaw(line) {
      for (const s of sessions.values()) write(s, line);
    },
    kill,
    restart: listen,
    close: kill,
  };
}

async function makeTls(): Promise<{ caPem: string; certPem: string; keyPem: string }> {
  const ca = await createCertificateAuthority('tokenwarden-stream-test-ca');
  const leaf = await issueServingCertFrom(ca, ['127.0.0.1', 'localhost']);
  return { caPem: ca.certPem, certPem: leaf.certPem, keyPem: leaf.keyPem };
}
