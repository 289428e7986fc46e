/**
 * The sidecar's end of the config stream (docs/contracts/in-cluster.md, ADR 0005): one
 * long-lived `POST /v1/config` over HTTPS, NDJSON messages applied in order, acknowledgements
 * written as lines of that request's body after an applied message (a burst folded into one
 * every 250 ms, ack-pacer.ts) and every 5 s, reconnection with backoff and full jitter. An
 * operator that predates acks on the stream is asked `GET /v1/config` and sent each ack as a
 * `POST /v1/ack` (ack-route.ts).
 *
 * Fail-static: nothing here ever loosens enforcement. A dropped stream, a refusal, a message
 * that does not validate: the configuration in force stays in force (EnforcementState is only ever
 * replaced by a fully applied message), and the sidecar keeps trying to get back in sync.
 */
import { readFile } from 'node:fs/promises';
import https from 'node:https';
import type { ClientRequest, IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import {
  ACK_MIN_INTERVAL_MS,
  ACK_PATH,
  HEARTBEAT_INTERVAL_MS,
  KEYS_REFRESH_PATH,
  PEER_TIMEOUT_MS,
  STREAM_CONTENT_TYPE,
  STREAM_PATH,
  encodeStreamAck,
  parseServerMessage,
  PROOFS_HEADER,
  type AckRequest,
  type KeysRefreshRequest,
  type ServerMessage,
} from '../../distribution/protocol.js';
import type { Logger } from '../../log/logger.js';
import type { WireProof } from '../../distribution/attestation.js';
import type { StreamApplier, ApplyResult } from './apply.js';
import { AckPacer } from './ack-pacer.js';
import { AckRoute, isOlderOperator } from './ack-route.js';
import {
  ReconnectBackoff,
  DEFAULT_BACKOFF,
  retryAfterDelay,
  type BackoffOptions,
} from './reconnect-backoff.js';
import { LineSplitter } from '../../distribution/lines.js';
import { contentOf } from './vouch.js';

/** Why a stream ended: the `reason` label of tokenwarden_control_plane_reconnects_total. */
export type ReconnectReason =
  | 'connect_error'
  | 'refused'
  | 'stream_ended'
  | 'heartbeat_timeout'
  | 'line_too_long'
  | 'bad_message'
  | 'base_mismatch'
  | 'session_gone'
  | 'token_unreadable';

/** A snapshot of 100k revocations is ~15 MB on one line; this bounds a hostile or broken peer. */
export const DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024;
const MAX_REFUSAL_BODY = 64 * 1024;

export interface StreamClientOptions {
  url: URL;
  caPem: string | undefined;
  tokenFile: string;
  applier: StreamApplier;
  log: Logger;
  /** After each applied message (the snapshot writer, metrics), with the operator's proof. */
  onApplied: (result: Extract<ApplyResult, { ok: true }>, proof: WireProof | undefined) => void;
  /** A message the validators refused (the old configuration stays). */
  onRefused: (error: string) => void;
  onConnectedChange: (connected: boolean) => void;
  onReconnect: (reason: ReconnectReason) => void;
  backoff?: BackoffOptions;
  peerTimeoutMs?: number;
  ackIntervalMs?: number;
  /** Least time between two acks (ack-pacer.ts); default ACK_MIN_INTERVAL_MS. */
  ackMinIntervalMs?: number;
  maxLineBytes?: number;
  now?: () => number;
}

interface Connection {
  readonly req: ClientRequest;
  /** Acks go as lines of `req`'s body (POST /v1/config); else as POST /v1/ack. */
  readonly acksOnStream: boolean;
  readonly openedAt: number;
  healthySince: number | undefined;
  ended: boolean;
  /** What a refusal's Retry-After asked for (ms, jittered), honoured by the next attempt. */
  retryAfterMs?: number;
}

export class StreamClient {
  readonly #o: StreamClientOptions;
  readonly #now: () => number;
  readonly #backoff: ReconnectBackoff;
  readonly #agent: https.Agent;
  #conn: Connection | undefined;
  #retry: NodeJS.Timeout | undefined;
  #ackTimer: NodeJS.Timeout | undefined;
  readonly #acks: AckPacer;
  readonly #ackRoute: AckRoute;
  #stopped = false;
  /** Messages are applied strictly in order, one at a time. */
  #chain: Promise<void> = Promise.resolve();
  #session: string | undefined;
  /**
   * The TLS session of the last stream (its ticket): the next connect resumes it, skipping the
   * certificate signature and chain check; the operator's replicas share the ticket keys.
   */
  #tls: Buffer | undefined;
  #generation = 0;
  /** Set by a base mismatch: the next connect asks for a snapshot (no ?version=). */
  #wantSnapshot = false;
  #inSync = false;
  #lastInSyncAt: number | undefined;

  constructor(options: StreamClientOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#backoff = new ReconnectBackoff(options.backoff ?? DEFAULT_BACKOFF);
    // Acks and refresh requests: one small keep-alive pool, apart from the stream's own socket.
    this.#agent = new https.Agent({ keepAlive: true, maxSockets: 2, ca: options.caPem });
    this.#ackRoute = new AckRoute(this.#now);
    this.#acks = new AckPacer({
      minIntervalMs: options.ackMinIntervalMs ?? ACK_MIN_INTERVAL_MS,
      now: this.#now,
      send: () => this.#ack(),
    });
  }

  get connected(): boolean {
    return this.#conn?.healthySince !== undefined && !this.#conn.ended;
  }

  /**
   * Epoch ms at which the sidecar last knew its configuration was the operator's current one:
   * a message applied, or a heartbeat read on a stream whose every message applied.
   */
  get lastInSyncAt(): number | undefined {
    return this.#lastInSyncAt;
  }

  start(): void {
    void this.#connect();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#retry);
    clearInterval(this.#ackTimer);
    this.#acks.reset();
    if (this.#conn !== undefined) {
      this.#conn.ended = true;
      this.#conn.req.destroy();
    }
    await this.#chain;
    this.#agent.destroy();
  }

  /** An unknown kid (rate-limited per issuer by the key store): ask the operator to refetch. */
  requestKeyRefresh(issuer: string, kid: string | undefined): void {
    const session = this.#session;
    if (kid === undefined || session === undefined || !this.connected) {
      this.#o.log.info({ issuer, connected: this.connected }, 'unknown kid; no key refresh requested');
      return;
    }
    const body: KeysRefreshRequest = { session, issuer, kid };
    this.#o.log.info({ issuer, kid }, 'key refresh requested');
    this.#post(KEYS_REFRESH_PATH, body);
  }

  async #connect(): Promise<void> {
    if (this.#stopped) return;
    let token: string;
    try {
      token = await this.#readToken();
    } catch (err) {
      this.#o.log.error(
        { tokenFile: this.#o.tokenFile, err: (err as Error).message },
        'token file unreadable',
      );
      this.#scheduleReconnect('token_unreadable', undefined);
      return;
    }
    const held = this.#o.applier.held;
    const url = new URL(STREAM_PATH, this.#o.url);
    if (held !== undefined && !this.#wantSnapshot) url.searchParams.set('version', held.version);
    const acksOnStream = this.#ackRoute.onStream();
    const headers = {
      authorization: `Bearer ${token}`,
      accept: STREAM_CONTENT_TYPE,
      // The certificate chain once per session, then named by hash (vouch.ts puts it back).
      [PROOFS_HEADER]: 'compact',
    };
    const req = https.request(url, {
      method: acksOnStream ? 'POST' : 'GET',
      // The request body stays open for the session's acks, one line each.
      headers: acksOnStream
        ? { ...headers, 'content-type': STREAM_CONTENT_TYPE, 'transfer-encoding': 'chunked' }
        : headers,
      ca: this.#o.caPem,
      agent: false,
      ...(this.#tls === undefined ? {} : { session: this.#tls }),
    });
    req.on('socket', (socket) => socket.on('session', (ticket: Buffer) => (this.#tls = ticket)));
    const conn: Connection = {
      req,
      acksOnStream,
      openedAt: this.#now(),
      healthySince: undefined,
      ended: false,
    };
    this.#conn = conn;
    const peerTimeout = this.#o.peerTimeoutMs ?? PEER_TIMEOUT_MS;
    // Armed from the request on: a peer that accepts the connection and says nothing is dead too.
    const silence = setTimeout(() => this.#end(conn, 'heartbeat_timeout'), peerTimeout);
    silence.unref();
    req.on('error', (err) => {
      clearTimeout(silence);
      if (!conn.ended)
        this.#o.log.warn({ url: this.#o.url.origin, err: err.message }, 'control plane unreachable');
      this.#end(conn, conn.healthySince === undefined ? 'connect_error' : 'stream_ended');
    });
    req.on('response', (res) => {
      if (res.statusCode !== 200) {
        clearTimeout(silence);
        this.#refused(conn, res);
        return;
      }
      this.#stream(conn, res, silence, held?.version);
    });
    // Headers out at once; a POST's body stays open (acks), a GET has none.
    if (acksOnStream) req.flushHeaders();
    else req.end();
  }

  /** A 200: the stream's messages, applied in order; `silence` is the peer timeout. */
  #stream(conn: Connection, res: IncomingMessage, silence: NodeJS.Timeout, held: string | undefined): void {
    const type = res.headers['content-type'] ?? '';
    if (!type.startsWith(STREAM_CONTENT_TYPE)) {
      clearTimeout(silence);
      this.#o.log.error({ contentType: type }, 'control plane answered without a stream');
      res.resume();
      this.#end(conn, 'refused');
      return;
    }
    conn.healthySince = this.#now();
    this.#o.onConnectedChange(true);
    this.#o.log.info(
      {
        url: this.#o.url.origin,
        version: held ?? null,
        acksOnStream: conn.acksOnStream,
        tlsResumed: (res.socket as TLSSocket).isSessionReused(),
      },
      'control plane connected',
    );
    this.#startAcks();
    const lines = new LineSplitter(this.#o.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES);
    res.on('data', (chunk: Buffer) => {
      if (conn.ended) return;
      silence.refresh();
      const pushed = lines.push(chunk);
      if (!pushed.ok) {
        this.#o.log.error({ err: pushed.error }, 'stream line refused');
        this.#end(conn, 'line_too_long');
        return;
      }
      for (const line of pushed.lines) this.#enqueue(conn, line);
    });
    res.on('end', () => this.#end(conn, 'stream_ended'));
    res.on('error', () => this.#end(conn, 'stream_ended'));
    res.on('close', () => {
      clearTimeout(silence);
      this.#end(conn, 'stream_ended');
    });
  }

  /** The pod's projected token, re-read each time (the kubelet rotates it). */
  async #readToken(): Promise<string> {
    const token = (await readFile(this.#o.tokenFile, 'utf8')).trim();
    if (token === '') throw new Error('the file is empty');
    // A header value cannot carry it (node would throw from https.request, outside any
    // handler): refuse it here, and never echo it.
    if (!/^[\x21-\x7e]+$/.test(token)) throw new Error('the token has characters a header cannot carry');
    return token;
  }

  #refused(conn: Connection, res: IncomingMessage): void {
    const retryAfter = res.headers['retry-after'];
    conn.retryAfterMs = retryAfterDelay(typeof retryAfter === 'string' ? retryAfter : undefined);
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (s: string) => {
      if (body.length < MAX_REFUSAL_BODY) body += s;
    });
    res.on('end', () => {
      let reason: unknown;
      let message: unknown;
      try {
        ({ reason, message } = JSON.parse(body) as { reason?: unknown; message?: unknown });
      } catch {
        message = body.slice(0, 200);
      }
      if (conn.acksOnStream && isOlderOperator(res.statusCode ?? 0, reason)) {
        this.#olderOperator(conn, res.statusCode);
        return;
      }
      this.#o.log.error(
        {
          status: res.statusCode,
          reason: typeof reason === 'string' ? reason : 'unknown',
          message: typeof message === 'string' ? message : undefined,
        },
        'control plane refused the stream',
      );
      this.#end(conn, 'refused');
    });
    res.on('error', () => this.#end(conn, 'refused'));
  }

  /** No acks on the stream here: ask again at once the older way (no backoff, not a failure). */
  #olderOperator(conn: Connection, status: number | undefined): void {
    this.#ackRoute.olderOperator();
    this.#o.log.info({ status }, 'control plane takes no acks on the stream; acking by POST /v1/ack');
    conn.ended = true;
    conn.req.destroy();
    if (conn === this.#conn) void this.#connect();
  }

  #enqueue(conn: Connection, line: string): void {
    this.#chain = this.#chain
      .then(() => this.#handle(conn, line))
      .catch((err: unknown) => {
        this.#o.log.error({ err: (err as Error).message }, 'stream message failed');
        this.#end(conn, 'bad_message');
      });
  }

  async #handle(conn: Connection, line: string): Promise<void> {
    if (conn.ended) return; // lines still queued from a connection already given up on
    const parsed = parseServerMessage(line);
    if (!parsed.ok) {
      this.#o.log.error({ err: parsed.error }, 'stream message refused');
      this.#end(conn, 'bad_message');
      return;
    }
    const msg: ServerMessage = parsed.value;
    if (msg.type === 'heartbeat') {
      if (this.#inSync) this.#lastInSyncAt = this.#now();
      return;
    }
    this.#session = msg.session;
    const result =
      msg.type === 'snapshot'
        ? await this.#o.applier.applySnapshot(msg.version, msg.config)
        : await this.#o.applier.applyDelta(msg);
    const proof = msg.proof;
    if (conn.ended) {
      // Applied (the swap is synchronous and complete) though the stream died meanwhile: still
      // correct content; the next connection reports it with ?version=.
      if (!result.ok) return;
      if (contentOf(result.held) === result.held.version) this.#o.onApplied(result, proof);
      else this.#wantSnapshot = true;
      return;
    }
    if (!result.ok && result.kind === 'base_mismatch') {
      this.#o.log.warn(
        { err: result.error },
        'delta does not apply to the held config; asking for a snapshot',
      );
      this.#wantSnapshot = true;
      this.#end(conn, 'base_mismatch');
      return;
    }
    if (!result.ok) {
      this.#inSync = false;
      this.#o.onRefused(result.error);
      return;
    }
    if (contentOf(result.held) !== msg.version) {
      // What was applied is not what the operator named: never ack it; start over from a snapshot.
      this.#o.log.error(
        { version: msg.version },
        'applied config does not hash to the version the operator named',
      );
      this.#wantSnapshot = true;
      this.#end(conn, 'bad_message');
      return;
    }
    this.#wantSnapshot = false;
    this.#inSync = true;
    this.#lastInSyncAt = this.#now();
    this.#generation = msg.generation;
    this.#o.onApplied(result, proof);
    this.#acks.request();
  }

  #startAcks(): void {
    clearInterval(this.#ackTimer);
    this.#acks.reset();
    const every = this.#o.ackIntervalMs ?? HEARTBEAT_INTERVAL_MS;
    this.#ackTimer = setInterval(() => this.#acks.keepAlive(every), every);
    this.#ackTimer.unref();
  }

  #ack(): void {
    const held = this.#o.applier.held;
    const session = this.#session;
    const conn = this.#conn;
    if (held === undefined || session === undefined || conn === undefined || !this.connected) return;
    if (!conn.acksOnStream) {
      const body: AckRequest = { session, generation: this.#generation, version: held.version };
      this.#post(ACK_PATH, body);
      return;
    }
    // A body the operator is not reading takes no more: the next ack names the newest version.
    if (conn.req.writableNeedDrain) return;
    conn.req.write(encodeStreamAck({ generation: this.#generation, version: held.version }));
  }

  /** Acks and refresh requests carry the stream's credential: the session id is none. */
  #post(path: string, body: object): void {
    const conn = this.#conn;
    this.#readToken()
      .then(
        (token) => this.#send(conn, path, body, token),
        (err: unknown) =>
          this.#o.log.warn({ path, err: (err as Error).message }, 'token file unreadable; nothing posted'),
      )
      // Nothing here may reach the process as an unhandled rejection.
      .catch((err: unknown) => this.#o.log.warn({ path, err: (err as Error).message }, 'post failed'));
  }

  #send(conn: Connection | undefined, path: string, body: object, token: string): void {
    const text = JSON.stringify(body);
    const req = https.request(new URL(path, this.#o.url), {
      method: 'POST',
      agent: this.#agent,
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(text),
      },
      timeout: 5_000,
    });
    req.on('response', (res) => {
      res.resume();
      if (res.statusCode === 410 && conn !== undefined && conn === this.#conn) {
        this.#o.log.warn({ path }, 'operator no longer knows this session');
        this.#end(conn, 'session_gone');
      } else if ((res.statusCode ?? 500) >= 300) {
        this.#o.log.warn({ path, status: res.statusCode }, 'control plane post refused');
      }
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err) => this.#o.log.debug({ path, err: err.message }, 'control plane post failed'));
    req.end(text);
  }

  /** Ends `conn` once (whatever signalled first) and schedules the next attempt. */
  #end(conn: Connection, reason: ReconnectReason): void {
    if (conn.ended) return;
    conn.ended = true;
    conn.req.destroy();
    if (conn !== this.#conn) return;
    clearInterval(this.#ackTimer);
    this.#acks.reset();
    const wasConnected = conn.healthySince !== undefined;
    this.#session = undefined;
    this.#inSync = false;
    if (wasConnected) this.#o.onConnectedChange(false);
    this.#scheduleReconnect(
      reason,
      conn.healthySince === undefined ? undefined : this.#now() - conn.healthySince,
      conn.retryAfterMs,
    );
  }

  #scheduleReconnect(reason: ReconnectReason, healthyMs: number | undefined, retryAfterMs?: number): void {
    if (this.#stopped) return;
    if (healthyMs !== undefined) this.#backoff.ended(healthyMs);
    const delay = this.#backoff.next(retryAfterMs);
    this.#o.onReconnect(reason);
    this.#o.log.info(
      { reason, delayMs: delay, attempt: this.#backoff.attempt },
      'control plane reconnect scheduled',
    );
    clearTimeout(this.#retry);
    this.#retry = setTimeout(() => void this.#connect(), delay);
  }
}
