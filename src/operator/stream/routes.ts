/**
 * The config stream's HTTP face, a fastify plugin on the operator's HTTPS server:
 *   GET  /v1/config?version=V   NDJSON stream (snapshot or delta first, then deltas and heartbeats)
 *   POST /v1/ack                { session, generation, version }   (the stream's bearer token)
 *   POST /v1/keys/refresh       { session, issuer, kid }           (the stream's bearer token)
 * Refusals are JSON `{ reason, message }` with the status of the contract, each counted in
 * tokenwarden_operator_stream_errors_total{reason}. The bearer token is only ever passed to the
 * TokenReview; it is never logged (the logger redacts Authorization as a second line).
 */
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import {
  ACK_PATH,
  KEYS_REFRESH_PATH,
  STREAM_CONTENT_TYPE,
  STREAM_PATH,
  type AckRequest,
  type KeysRefreshRequest,
  type StreamRefusalReason,
} from '../../distribution/protocol.js';
import type { Logger } from '../../log/logger.js';
import type { OperatorMetrics } from '../../metrics/operator.js';
import { AckGuard } from './ack-auth.js';
import { bearerToken, type Authenticated } from './auth.js';
import type { StreamHub } from './hub.js';
import type { CloseReason, Session } from './sessions.js';

export interface StreamRoutesOptions {
  readonly hub: StreamHub;
  /** TokenReview of the bearer token (auth.ts `reviewToken`, bound to an API client). */
  readonly review: (token: string) => Promise<Authenticated>;
  readonly log: Logger;
  readonly metrics?: OperatorMetrics;
}

type Refused = { readonly status: number; readonly reason: StreamRefusalReason; readonly message: string };
const MISSING_TOKEN = 'missing Authorization: Bearer <projected ServiceAccount token>';
const SESSION_GONE: Refused = {
  status: 410,
  reason: 'session_gone',
  message: 'no such session on this replica: reconnect',
};

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

export const streamRoutes: FastifyPluginAsync<StreamRoutesOptions> = (app, o) => {
  const refuse = (reply: FastifyReply, status: number, reason: StreamRefusalReason, message: string) => {
    o.metrics?.streamErrors.inc({ reason });
    return reply.code(status).header('cache-control', 'no-store').send({ reason, message });
  };
  const guard = new AckGuard(o.review);
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

  app.get<{ Querystring: { version?: string } }>(
    STREAM_PATH,
    { schema: configSchema },
    async (req, reply) => {
      const token = bearerToken(req.headers.authorization);
      if (token === undefined)
        return refuse(
          reply,
          401,
          'token_invalid',
          'missing Authorization: Bearer <projected ServiceAccount token>',
        );
      const who = await o.review(token);
      if (!who.ok) {
        o.log.info({ reason: who.reason, why: who.message }, 'stream refused');
        return refuse(reply, who.status, who.reason, who.message);
      }
      const resolved = o.hub.resolve(who.pod);
      if (!resolved.ok) {
        o.log.info(
          { pod: `${who.pod.namespace}/${who.pod.name}`, reason: resolved.reason },
          'stream refused',
        );
        return refuse(reply, resolved.status, resolved.reason, resolved.message);
      }
      // Lines produced while the session opens are held until the headers are out.
      const early: string[] = [];
      let live = false;
      let ended = false;
      const raw = reply.raw;
      const opened = o.hub.connect(
        who.pod,
        resolved.policy,
        {
          write: (line) => (live ? raw.write(line) : (early.push(line), true)),
          end: (_reason: CloseReason) => {
            ended = true;
            if (live) raw.end();
          },
        },
        req.query.version,
      );
      if (!('id' in opened)) return refuse(reply, opened.status, opened.reason, opened.message);
      const s: Session = opened;
      guard.bind(s, token);
      reply.hijack();
      raw.writeHead(200, {
        'content-type': STREAM_CONTENT_TYPE,
        'cache-control': 'no-store',
        // Proxies that buffer responses (nginx) would hold the stream back.
        'x-accel-buffering': 'no',
      });
      live = true;
      for (const line of early) raw.write(line);
      raw.on('close', () => o.hub.disconnected(s.id, 'client_closed'));
      if (ended) raw.end();
      return reply;
    },
  );

  app.post<{ Body: AckRequest }>(ACK_PATH, { schema: ackSchema }, async (req, reply) => {
    const s = await sessionOf(req.headers.authorization, req.body.session);
    if (!('id' in s)) return refuse(reply, s.status, s.reason, s.message);
    const outcome = o.hub.ack(req.body);
    if (outcome === 'session_gone')
      return refuse(reply, 410, 'session_gone', 'no such session on this replica: reconnect');
    if (outcome === 'unsent_version')
      return refuse(
        reply,
        409,
        'unsent_version',
        'this session was never sent that version at that generation',
      );
    return reply.code(204).send();
  });

  app.post<{ Body: KeysRefreshRequest }>(KEYS_REFRESH_PATH, { schema: refreshSchema }, async (req, reply) => {
    const s = await sessionOf(req.headers.authorization, req.body.session);
    if (!('id' in s)) return refuse(reply, s.status, s.reason, s.message);
    const outcome = await o.hub.refreshKeys(req.body);
    if (outcome === 'session_gone')
      return refuse(reply, 410, 'session_gone', 'no such session on this replica: reconnect');
    if (outcome === 'unknown_issuer')
      return reply.code(400).send({ reason: 'unknown_issuer', message: 'the policy has no such issuer' });
    // 202 either way: new keys, if any, come as a delta on the stream.
    return reply.code(202).send({ refreshed: outcome === 'ok' });
  });
  return Promise.resolve();
};
