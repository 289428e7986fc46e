/**
 * The config stream's HTTP face, a fastify plugin on the operator's HTTPS server:
 *   GET  /v1/config?version=V   NDJSON stream (snapshot or delta first, then deltas and heartbeats)
 *   POST /v1/config?version=V   the same stream; its request body carries the sidecar's acks as
 *                               NDJSON lines for the life of the session (stream-acks.ts)
 *   POST /v1/ack                { session, generation, version }   (the stream's bearer token;
 *                               sidecars that predate acks on the stream)
 *   POST /v1/keys/refresh       { session, issuer, kid }           (the stream's bearer token)
 * Refusals are JSON `{ reason, message }` with the status of the contract, each counted in
 * tokenwarden_operator_stream_errors_total{reason}; a shed request (gate.ts) gets 503 or 429
 * with `Retry-After`. A session whose unsent bytes pass `maxBufferedBytes` is dropped
 * (slow_consumer): a peer that never reads cannot make the operator hold every message. The bearer token is only ever passed to the
 * TokenReview; it is never logged (the logger redacts Authorization as a second line).
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import {
  ACK_PATH,
  KEYS_REFRESH_PATH,
  STREAM_CONTENT_TYPE,
  STREAM_PATH,
  type AckRequest,
  type KeysRefreshRequest,
  type StreamRefusalReason,
} from '../../distribution/protocol.js';
import { PROOFS_HEADER } from '../../distribution/protocol.js';
import type { Logger } from '../../log/logger.js';
import type { OperatorMetrics } from '../../metrics/operator.js';
import { AckGuard } from './ack-auth.js';
import type { AdmissionOptions, AdmissionRefusal } from './admission.js';
import { bearerToken, type Authenticated } from './auth.js';
import { StreamGate } from './gate.js';
import type { StreamHub } from './hub.js';
import type { PodTokenCheck } from './pod-token.js';
import type { Session } from './sessions.js';
import { takeStreamAcks } from './stream-acks.js';
import { StreamSocket } from './stream-socket.js';

export interface StreamRoutesOptions {
  readonly hub: StreamHub;
  /** TokenReview of the bearer token (review-client.ts `tokenReviewer`; an API server that cannot be asked → 503, never a pass). */
  readonly review: (token: string) => Promise<Authenticated>;
  /** The local check against the service-account keys (gate.ts); absent: TokenReviews only. */
  readonly verify?: (token: string) => PodTokenCheck;
  readonly log: Logger;
  readonly metrics?: OperatorMetrics;
  readonly admission?: AdmissionOptions;
  /** Unsent bytes after which a session is dropped as slow_consumer. */
  readonly maxBufferedBytes?: number;
  /**
   * How long an authenticated stream request waits for the caches to be synced before it is a
   * 503 not_ready (default `READY_WAIT_MS`); at most the replica's session cap wait at once.
   */
  readonly readyWaitMs?: number;
}

/** Well inside the 15 s a sidecar waits for its first line. */
export const READY_WAIT_MS = 5_000;

type Refused = {
  readonly status: number;
  readonly reason: StreamRefusalReason | AdmissionRefusal;
  readonly message: string;
};
const MISSING_TOKEN = 'missing Authorization: Bearer <projected ServiceAccount token>';
const SESSION_GONE: Refused = {
  status: 410,
  reason: 'session_gone',
  message: 'no such session on this replica: reconnect',
};

/** Room for a large snapshot plus a few deltas; a peer further behind reconnects (ADR 0011). */
export const DEFAULT_MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

const session = { type: 'string', minLength: 1, maxLength: 64 } as const;
const ackSchema = {
  body: {
    type: 'object',
    required: ['session', 'generation', 'version'],
    additionalProperties: false,
    properties: {
      session,
      generation: { type: 'integer', minimum: 0 },
      version: { type: 'string', minLength: 1, maxLength: 128 },
    },
  },
} as const;
const refreshSchema = {
  body: {
    type: 'object',
    required: ['session', 'issuer', 'kid'],
    additionalProperties: false,
    properties: {
      session,
      issuer: { type: 'string', minLength: 1, maxLength: 2048 },
      kid: { type: 'string', maxLength: 1024 },
    },
  },
} as const;
const configSchema = {
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: { version: { type: 'string', minLength: 1, maxLength: 128 } },
  },
} as const;

/** What every route shares: the gate (reviews, limits), the ack guard and how to refuse. */
function door(o: StreamRoutesOptions) {
  const gate = new StreamGate({
    review: o.review,
    ...(o.verify === undefined ? {} : { verify: o.verify }),
    ...(o.admission === undefined ? {} : { admission: o.admission }),
    ...(o.metrics === undefined ? {} : { metrics: o.metrics }),
  });
  const maxBuffered = o.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
  const refuse = (
    reply: FastifyReply,
    status: number,
    reason: StreamRefusalReason | AdmissionRefusal,
    message: string,
  ) => {
    o.metrics?.streamErrors.inc({ reason });
    if (status === 503 || status === 429) reply.header('retry-after', String(gate.retryAfterSeconds));
    return reply.code(status).header('cache-control', 'no-store').send({ reason, message });
  };
  const shed = (reply: FastifyReply, reason: AdmissionRefusal) =>
    refuse(
      reply,
      reason === 'pod_session_limit' ? 429 : 503,
      reason,
      reason === 'pod_session_limit'
        ? 'this pod has as many config streams open as it may'
        : 'the operator is shedding load: retry after the delay given',
    );
  // Acks and refreshes go through the same door as streams: the review cache and its limits.
  const guard = new AckGuard((token) => gate.authenticate(token));
  /** An ack or refresh: the session it names, if the stream's credential for its pod came with it. */
  const sessionOf = async (authorization: string | undefined, id: string): Promise<Session | Refused> => {
    const token = bearerToken(authorization);
    if (token === undefined) return { status: 401, reason: 'token_invalid', message: MISSING_TOKEN };
    const s = o.hub.sessions.get(id);
    if (s === undefined) return SESSION_GONE;
    const auth = await guard.check(s, token);
    if (auth.ok) return s;
    o.log.info({ session: s.id, reason: auth.reason }, 'ack refused');
    return auth;
  };

  return { o, gate, guard, maxBuffered, refuse, shed, sessionOf };
}
type Door = ReturnType<typeof door>;

/**
 * `GET /v1/config` and `POST /v1/config`: authenticate, resolve the pod's policy, open a
 * session, stream; a POST's request body is then read for the session's acks.
 */
function serveStream({ o, gate, guard, maxBuffered, refuse, shed }: Door) {
  return async (req: FastifyRequest<{ Querystring: { version?: string } }>, reply: FastifyReply) => {
    const token = bearerToken(req.headers.authorization);
    if (token === undefined) return refuse(reply, 401, 'token_invalid', MISSING_TOKEN);
    const who = await gate.authenticate(token);
    if (!who.ok && 'shed' in who) return shed(reply, who.shed);
    if (!who.ok) {
      o.log.info({ reason: who.reason, why: who.message }, 'stream refused');
      return refuse(reply, who.status, who.reason, who.message);
    }
    if (!o.hub.isReady() && o.hub.waitingForReady < gate.maxSessions) {
      // Just started: serve it the moment the caches are complete rather than send it away.
      await o.hub.whenReady(o.readyWaitMs ?? READY_WAIT_MS);
    }
    const resolved = o.hub.resolve(who.pod, who.serviceAccount);
    if (!resolved.ok) {
      o.log.info({ pod: `${who.pod.namespace}/${who.pod.name}`, reason: resolved.reason }, 'stream refused');
      return refuse(reply, resolved.status, resolved.reason, resolved.message);
    }
    const capped = gate.session(o.hub.sessions.size, o.hub.sessions.countForPod(who.pod.uid));
    if (capped !== undefined) return shed(reply, capped);
    // The peer may have gone during the awaits above (a TokenReview, the wait for the caches):
    // a session on a closed socket would never hear its 'close'.
    if (req.raw.socket.destroyed) return reply.hijack();
    const socket = new StreamSocket(reply.raw, maxBuffered);
    const opened = o.hub.connect(who.pod, resolved.policy, socket.io, req.query.version, {
      compactProofs: req.headers[PROOFS_HEADER] === 'compact',
    });
    if (!('id' in opened)) return refuse(reply, opened.status, opened.reason, opened.message);
    const s: Session = opened;
    guard.bind(s, token);
    reply.hijack();
    socket.goLive((dropped) => {
      if (dropped !== undefined) o.metrics?.streamErrors.inc({ reason: dropped });
      o.hub.disconnected(s.id, dropped ?? 'client_closed');
    });
    if (req.method === 'POST')
      takeStreamAcks({
        req: req.raw,
        res: reply.raw,
        session: s,
        hub: o.hub,
        log: o.log,
        ...(o.metrics === undefined ? {} : { metrics: o.metrics }),
        drop: (reason) => socket.drop(reason),
      });
    return reply;
  };
}

/** `POST /v1/ack`: counted only for an exact (generation, version) the session was sent. */
function serveAck({ o, refuse, sessionOf }: Door) {
  return async (req: FastifyRequest<{ Body: AckRequest }>, reply: FastifyReply) => {
    const s = await sessionOf(req.headers.authorization, req.body.session);
    if (!('id' in s)) return refuse(reply, s.status, s.reason, s.message);
    const outcome = o.hub.ack(req.body);
    if (outcome === 'session_gone') return refuse(reply, 410, 'session_gone', SESSION_GONE.message);
    if (outcome === 'unsent_version')
      return refuse(
        reply,
        409,
        'unsent_version',
        'this session was never sent that version at that generation',
      );
    return reply.code(204).send();
  };
}

/** `POST /v1/keys/refresh`: an unknown kid on a sidecar; new keys come as a delta. */
function serveRefresh({ o, refuse, sessionOf }: Door) {
  return async (req: FastifyRequest<{ Body: KeysRefreshRequest }>, reply: FastifyReply) => {
    const s = await sessionOf(req.headers.authorization, req.body.session);
    if (!('id' in s)) return refuse(reply, s.status, s.reason, s.message);
    const outcome = await o.hub.refreshKeys(req.body);
    if (outcome === 'session_gone') return refuse(reply, 410, 'session_gone', SESSION_GONE.message);
    if (outcome === 'unknown_issuer')
      return reply.code(400).send({ reason: 'unknown_issuer', message: 'the policy has no such issuer' });
    // 202 either way: new keys, if any, come as a delta on the stream.
    return reply.code(202).send({ refreshed: outcome === 'ok' });
  };
}

export const streamRoutes: FastifyPluginAsync<StreamRoutesOptions> = (app, o) => {
  const d = door(o);
  app.get<{ Querystring: { version?: string } }>(STREAM_PATH, { schema: configSchema }, serveStream(d));
  // Its own context: NDJSON only (any other body is 415), left unread for the handler to read as it comes.
  void app.register((withAcks) => {
    withAcks.removeAllContentTypeParsers();
    withAcks.addContentTypeParser(STREAM_CONTENT_TYPE, (_req, _body, done) => done(null, undefined));
    withAcks.post<{ Querystring: { version?: string } }>(
      STREAM_PATH,
      { schema: configSchema },
      serveStream(d),
    );
    return Promise.resolve();
  });
  app.post<{ Body: AckRequest }>(ACK_PATH, { schema: ackSchema }, serveAck(d));
  app.post<{ Body: KeysRefreshRequest }>(KEYS_REFRESH_PATH, { schema: refreshSchema }, serveRefresh(d));
  return Promise.resolve();
};
