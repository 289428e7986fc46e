/**
 * The exchange of one request on the enforcing listener: the head's guards, the facts
 * (request-facts.ts), the decision (src/decide/engine.ts), then record (observe.ts) and answer
 * (respond.ts) or forward (forward.ts, the body read first by body.ts). Every request ends in
 * exactly one answer; an exception anywhere on the way answers 500 and is never forwarded.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Decision, Forward } from '../decide/decision.js';
import type { Engine } from '../decide/engine.js';
import type { RequestFacts } from '../decide/request.js';
import { readBody, type BodyLimits } from './body.js';
import { challengeFor } from './challenge.js';
import type { BodyPace, Upstream } from './forward.js';
import { upstreamHeaders } from './headers.js';
import { headProblem } from './http-guards.js';
import type { Observer } from './observe.js';
import { readRequest } from './request-facts.js';
import { refusal, refusalWith, respond } from './respond.js';
import type { SocketMarks } from './socket-refusals.js';

const STALLED_UNDER_PRESSURE = 'body stalled while requests waited for an upstream connection';

export interface ExchangeContext {
  readonly engine: Engine;
  readonly upstream: Upstream;
  readonly observe: Observer;
  /** Most header fields accepted; more answers 431. */
  readonly maxHeaders: number;
  readonly body: BodyLimits;
  /** Read for `listening`: a server draining for shutdown keeps no connection alive. */
  readonly server: Server;
  readonly marks: SocketMarks;
}

/** The listener of `request` (and `checkContinue`): one exchange per call. */
export function exchangeHandler(ctx: ExchangeContext): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => exchange(ctx, req, res);
}

function exchange(ctx: ExchangeContext, req: IncomingMessage, res: ServerResponse): void {
  if (ctx.marks.overCap.has(req.socket)) {
    // Answered 503 on accept; the request parsed from its first packet is dropped undecided.
    req.socket.destroy();
    return;
  }
  const started = process.hrtime.bigint();
  open(ctx, req, res);
  try {
    if (refusedHead(ctx, req, res)) return;
    const facts = readRequest(req);
    // A problem in the facts is the framing's: the connection is closed after the answer.
    const close = facts.problem !== undefined;
    const decision = ctx.engine.decide(facts);
    if (decision instanceof Promise) {
      // A throw in `complete` must not become an unhandled rejection (the process exits).
      decision
        .then((d) => complete(ctx, req, res, facts, close, d, started))
        .catch((err: unknown) => internalError(ctx, res, err));
    } else {
      complete(ctx, req, res, facts, close, decision, started);
    }
  } catch (err) {
    internalError(ctx, res, err);
  }
}

/** The exchange takes its socket and its response stream's errors; draining: no keep-alive. */
function open(ctx: ExchangeContext, req: IncomingMessage, res: ServerResponse): void {
  const { inExchange } = ctx.marks;
  // Until this exchange ends, a parse error on its socket (a body the parser refuses) belongs
  // to it: the exchange answers and counts it once, never the clientError handler a second time.
  inExchange.add(req.socket);
  // A connection kept alive serves the next request; one this answer closes has no next one.
  res.once('close', () => {
    const closing = /close/i.test(String(res.getHeader('connection') ?? ''));
    if (res.shouldKeepAlive && !closing) inExchange.delete(req.socket);
  });
  // Errors of the response stream (a write after the client left) are the exchange's, never
  // the process's: without a listener, one would be an uncaught 'error' event.
  res.on('error', () => res.destroy());
  // Draining for shutdown: answer, then close the connection instead of keeping it alive.
  if (!ctx.server.listening) res.shouldKeepAlive = false;
}

/** The head's guards (http-guards.ts): true when the request was refused (and answered). */
function refusedHead(ctx: ExchangeContext, req: IncomingMessage, res: ServerResponse): boolean {
  const head = headProblem(req.method ?? 'GET', req.headers, req.rawHeaders, ctx.maxHeaders, req.httpVersion);
  if (head === undefined) return false;
  const reason = head.status === 431 ? 'header_too_large' : 'malformed_http';
  ctx.observe.refused(reason, ctx.engine.policyName(), {
    detail: head.description,
    method: req.method,
    client: req.socket.remoteAddress,
  });
  // The framing is in doubt: what follows on the connection is not read as a request.
  respond(res, { ...refusalWith(reason, head.status, head.description), close: true });
  return true;
}

/** After the decision: record it, then answer or forward. */
function complete(
  ctx: ExchangeContext,
  req: IncomingMessage,
  res: ServerResponse,
  facts: RequestFacts,
  close: boolean,
  d: Decision,
  started: bigint,
): void {
  ctx.observe.decided(d, facts, started);
  if (d.kind === 'unavailable') return respond(res, refusal('no_policy'));
  if (d.kind === 'reject') {
    const answer = challengeFor(d);
    // A body left unread (refused before reading it) is not drained for keep-alive: a slow
    // client could hold the socket doing that. The connection closes instead.
    return respond(res, close || !req.complete ? { ...answer, close: true } : answer);
  }
  forward(ctx, req, res, facts, d);
}

/** A forward decision: the request, its body read first, handed to the app. */
function forward(
  ctx: ExchangeContext,
  req: IncomingMessage,
  res: ServerResponse,
  facts: RequestFacts,
  d: Forward,
): void {
  const { observe, upstream } = ctx;
  const headers = upstreamHeaders(req.headers, d.strip, d.headers, facts.client, {
    allowUnderscores: d.allowUnderscores,
    trustedPeer: d.trustedProxies?.has(facts.client) === true,
    keepToken: d.keepToken,
  });
  const target = withoutAccessToken(d.target);
  const fields = { method: facts.method, path: d.path, client: facts.client };
  /** A streamed body stalled after it was handed on: counted as `timeout`, and only so. */
  let cut = false;
  const send = (body: Buffer | Readable | null, pace?: BodyPace): void =>
    upstream.forward(
      facts.method,
      res,
      target,
      headers,
      body,
      (kind, err) => observe.upstreamFailed(kind, err, facts, d.path),
      (reason) => {
        if (cut) return;
        observe.refused(reason, d.policy, fields);
        if (reason === 'upstream_busy') respond(res, refusal('upstream_busy'));
      },
      () => observe.forwarded(d),
      pace,
    );
  const hasBody =
    req.headers['transfer-encoding'] !== undefined ||
    (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');
  // Expect: 100-continue is answered only now, for a request that will be forwarded.
  if (hasBody && /^100-continue$/i.test(req.headers.expect ?? '')) res.writeContinue();
  if (!hasBody) return send(null);
  // The body is read (small ones whole) before an upstream connection is taken: a slow
  // client holds a socket of the sidecar, never one of the app.
  const cutBody = (why: string): void => {
    if (cut) return;
    cut = true;
    observe.refused('timeout', d.policy, { detail: why, ...fields });
    res.destroy();
  };
  readBody(req, ctx.body, cutBody, upstream.budget)
    .then((b) => {
      if (b.kind === 'aborted') return observe.refused('client_closed', d.policy, fields);
      if (b.kind === 'timeout') {
        observe.refused('timeout', d.policy, { detail: b.description, ...fields });
        return respond(res, refusalWith('timeout', 408, b.description));
      }
      if (b.kind === 'buffered') return send(b.body);
      send(b.body, { stalledSince: b.stalledSince, evict: () => cutBody(STALLED_UNDER_PRESSURE) });
    })
    .catch((err: unknown) => internalError(ctx, res, err));
}

/** 500, counted; never forwarded. */
function internalError(ctx: ExchangeContext, res: ServerResponse, err: unknown): void {
  try {
    ctx.observe.refused('internal_error', ctx.engine.policyName(), {
      err: err instanceof Error ? err.message : String(err),
    });
    if (res.destroyed) return; // the client left: nothing to answer
    respond(res, refusal('internal_error'));
  } catch {
    res.destroy(); // answering failed too (headers half-written): cut, never exit
  }
}

/** The query without `access_token` parameters: the app never sees a token it did not get verified. */
function withoutAccessToken(target: string): string {
  const q = target.indexOf('?');
  if (q === -1 || (!target.includes('access') && !target.includes('%'))) return target;
  const kept = target
    .slice(q + 1)
    .split('&')
    .filter((p) => {
      const eq = p.indexOf('=');
      const name = eq === -1 ? p : p.slice(0, eq);
      let decoded = name;
      try {
        decoded = decodeURIComponent(name.replace(/\+/g, ' '));
      } catch {
        // undecodable: compared as written
      }
      return decoded !== 'access_token';
    });
  return kept.length === 0 ? target.slice(0, q) : `${target.slice(0, q)}?${kept.join('&')}`;
}
