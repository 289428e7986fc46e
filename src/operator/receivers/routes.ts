/**
 * The receivers' HTTP face, a fastify plugin on the operator's HTTPS server:
 *
 *   POST /v1/receivers/{namespace}/{policy}/backchannel-logout
 *        application/x-www-form-urlencoded `logout_token=…` (OpenID Connect Back-Channel
 *        Logout 1.0 §2.5); 200 when the revocation exists, 400 `{"error":"invalid_request",
 *        "error_description":…}` for a bad request or logout token (§2.8).
 *   POST /v1/receivers/{namespace}/{policy}/events
 *        application/secevent+jwt, one SET (RFC 8935 §2); 202 Accepted, or 400
 *        `{"err":…,"description":…}` with the error codes of RFC 8935 §2.4.
 *
 * Both: 429 when a sender's or the overall rate (checked before any signature) or the
 * issuer's rate of revocations is exceeded, 503 when this replica cannot act yet (keys not
 * loaded) or the API server refused the write — the provider may retry; 404 when no policy
 * with a receiver is at that address. Every answer is `Cache-Control: no-store`. This is the
 * only place an outcome becomes a status.
 */
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { ReceiverKind, ReceiverOutcome } from '../../metrics/operator.js';
import type { EventReceiver, Outcome } from './receiver.js';

export const RECEIVER_PREFIX = '/v1/receivers';
/** Logout tokens and SETs are a few KiB; the token decoder refuses anything above 16 KiB anyway. */
const BODY_LIMIT = 64 * 1024;
const NAME = {
  type: 'string',
  minLength: 1,
  maxLength: 253,
  pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$',
} as const;
const params = {
  params: {
    type: 'object',
    required: ['namespace', 'policy'],
    properties: { namespace: NAME, policy: NAME },
  },
} as const;

export interface ReceiverRoutesOptions {
  readonly receiver: EventReceiver;
}

/** RFC 8935 §2.4 error codes; everything not about the key, issuer or audience is the request's fault. */
function setErrorCode(outcome: ReceiverOutcome): string {
  if (outcome === 'unknown_key' || outcome === 'bad_signature') return 'invalid_key';
  if (outcome === 'unknown_issuer') return 'invalid_issuer';
  if (outcome === 'wrong_audience') return 'invalid_audience';
  return 'invalid_request';
}

function answer(reply: FastifyReply, kind: ReceiverKind, o: Outcome): FastifyReply {
  reply.header('cache-control', 'no-store');
  const done = o.outcome === 'revoked' || o.outcome === 'duplicate';
  if (done) return kind === 'ssf' ? reply.code(202).send() : reply.code(200).send();
  const status =
    o.outcome === 'rate_limited'
      ? 429
      : o.outcome === 'not_ready' || o.outcome === 'write_failed'
        ? 503
        : o.outcome === 'no_receiver'
          ? 404
          : 400;
  if (status === 429) reply.header('retry-after', '1');
  if (kind === 'ssf') {
    const err = status === 400 ? setErrorCode(o.outcome) : o.outcome;
    return reply.code(status).send({ err, description: o.description });
  }
  const error = status === 400 ? 'invalid_request' : status === 503 ? 'temporarily_unavailable' : o.outcome;
  return reply.code(status).send({ error, error_description: o.description });
}

function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0]!.trim().toLowerCase();
}

function refused(description: string): Outcome {
  return { outcome: 'malformed', description };
}

/** The logout_token of a form body: exactly one, non-empty. */
function logoutToken(body: string): string | Outcome {
  const values = new URLSearchParams(body).getAll('logout_token');
  if (values.length !== 1 || values[0] === '')
    return refused('the body needs exactly one logout_token parameter');
  return values[0] as string;
}

export const receiverRoutes: FastifyPluginAsync<ReceiverRoutesOptions> = (app, o) => {
  // Bodies arrive as text whatever their type, so a wrong type is answered in the protocol's
  // own words (and counted) rather than with fastify's bare 415.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: BODY_LIMIT }, (_req, body, done) => {
    done(null, body);
  });
  type Req = { Params: { namespace: string; policy: string }; Body: unknown };

  const handle = async (
    kind: ReceiverKind,
    ns: string,
    policy: string,
    token: string | Outcome,
    peer: string,
  ) => {
    if (typeof token !== 'string') {
      // Counted like every other event, without a token to fingerprint.
      return o.receiver.count(kind, ns, policy, token);
    }
    return o.receiver.receive(kind, ns, policy, token, peer);
  };

  app.post<Req>(
    `${RECEIVER_PREFIX}/:namespace/:policy/backchannel-logout`,
    { schema: params },
    async (req, reply) => {
      const body = typeof req.body === 'string' ? req.body : '';
      const token =
        mediaType(req.headers['content-type']) === 'application/x-www-form-urlencoded'
          ? logoutToken(body)
          : refused('the body must be application/x-www-form-urlencoded');
      const { namespace, policy } = req.params;
      const outcome = await handle('backchannel_logout', namespace, policy, token, req.ip);
      return answer(reply, 'backchannel_logout', outcome);
    },
  );

  app.post<Req>(`${RECEIVER_PREFIX}/:namespace/:policy/events`, { schema: params }, async (req, reply) => {
    const body = typeof req.body === 'string' ? req.body.trim() : '';
    const token =
      mediaType(req.headers['content-type']) === 'application/secevent+jwt'
        ? body
        : refused('the body must be application/secevent+jwt');
    const outcome = await handle('ssf', req.params.namespace, req.params.policy, token, req.ip);
    return answer(reply, 'ssf', outcome);
  });
  return Promise.resolve();
};
