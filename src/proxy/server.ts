/**
 * The enforcing listener, three steps per request: read the facts (request-facts.ts), decide
 * (src/decide/engine.ts), then record (observe.ts) and answer (respond.ts) or forward
 * (forward.ts). Every request ends in exactly one answer, and every answer the sidecar gives
 * itself is counted. Nothing reaches the app without a decision: an exception anywhere on the
 * way answers 500 and is never forwarded. Protocol limits (ADR 0007): header count, Host,
 * GET/HEAD bodies, Expect, per-client connections, head and body timeouts, bodies buffered
 * before an upstream connection is taken, a bounded wait for one (src/proxy/http-guards.ts, body.ts).
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type { Decision } from '../decide/decision.js';
import type { Engine } from '../decide/engine.js';
import type { RequestFacts } from '../decide/request.js';
import type { Logger } from '../log/logger.js';
import type { SidecarMetrics } from '../metrics/sidecar.js';
import { challengeFor } from './challenge.js';
import type { BodyPace, Upstream } from './forward.js';
import { upstreamHeaders } from './headers.js';
import { createObserver } from './observe.js';
import { readRequest } from './request-facts.js';
import { refusal, refusalWith, respond, respondRaw } from './respond.js';
import { readBody, type BodyLimits } from './body.js';
import { ConnectionLimiter, headProblem } from './http-guards.js';

const STALLED_UNDER_PRESSURE = 'body stalled while requests waited for an upstream connection';

export interface ProxyServerOptions {
  engine: Engine;
  upstream: Upstream;
  metrics: SidecarMetrics;
  log: Logger;
  /** Largest request head accepted; bigger answers 431. */
  maxHeaderBytes: number;
  /** Most header fields accepted; more answers 431. */
  maxHeaders: number;
  /** The whole request head must arrive within this; else 408. */
  headersTimeoutMs: number;
  /** Body buffering, idle timeout and minimum rate (src/proxy/body.ts). */
  body: BodyLimits;
  /** Open connections per client address; more are answered 503 and closed. */
  maxConnectionsPerClient: number;
  /** Open connections in all; more are answered 503 and closed. */
  maxConnections: number;
}

export function createProxyServer(opts: ProxyServerOptions): http.Server {
  const { engine, upstream } = opts;
  const observe = createObserver(opts.metrics, opts.log);
  const { maxHeaders, body: bodyLimits } = opts;
  const server = http.createServer({
    // A request without Host is refused by headProblem, counted and logged like every refusal.
    requireHostHeader: false,
    maxHeaderSize: opts.maxHeaderBytes,
    keepAliveTimeout: 65_000,
    headersTimeout: opts.headersTimeoutMs,
    requestTimeout: 300_000,
    // Timeouts are checked this often (Node's default, 30 s, would let a slow head live that long).
    connectionsCheckingInterval: 1_000,
    // Refuse ambiguous framing in the parser itself, before any of our code runs.
    insecureHTTPParser: false,
  });
  // One more than the limit, so that a request over it is seen (and refused) rather than cut.
  server.maxHeadersCount = maxHeaders + 1;
  const inExchange = new WeakSet<Socket>();
  const limiter = new ConnectionLimiter(opts.maxConnectionsPerClient, opts.maxConnections);
  /** Connections refused at the cap: whatever their first packet holds is never decided. */
  const overCap = new WeakSet<Socket>();

  /** After the decision: record it, then answer or forward. */
  const complete = (
    req: IncomingMessage,
    res: ServerResponse,
    facts: RequestFacts,
    close: boolean,
    d: Decision,
    started: bigint,
  ): void => {
    observe.decided(d, facts, started);
    if (d.kind === 'unavailable') return respond(res, refusal('no_policy'));
    if (d.kind === 'reject') {
      const answer = challengeFor(d);
      // A body left unread (refused before reading it) is not drained for keep-alive: a slow
      // client could hold the socket doing that. The connection closes instead.
      return respond(res, close || !req.complete ? { ...answer, close: true } : answer);
    }
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
    readBody(req, bodyLimits, cutBody, upstream.budget)
      .then((b) => {
        if (b.kind === 'aborted') return observe.refused('client_closed', d.policy, fields);
        if (b.kind === 'timeout') {
          observe.refused('timeout', d.policy, { detail: b.description, ...fields });
          return respond(res, refusalWith('timeout', 408, b.description));
        }
        if (b.kind === 'buffered') return send(b.body);
        send(b.body, { stalledSince: b.stalledSince, evict: () => cutBody(STALLED_UNDER_PRESSURE) });
      })
      .catch((err: unknown) => internalError(res, err));
  };

  const internalError = (res: ServerResponse, err: unknown): void => {
    try {
      observe.refused('internal_error', engine.policyName(), {
        err: err instanceof Error ? err.message : String(err),
      });
      if (res.destroyed) return; // the client left: nothing to answer
      respond(res, refusal('internal_error'));
    } catch {
      res.destroy(); // answering failed too (headers half-written): cut, never exit
    }
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    if (overCap.has(req.socket)) {
      // Answered 503 on accept; the request parsed from its first packet is dropped undecided.
      req.socket.destroy();
      return;
    }
    const started = process.hrtime.bigint();
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
    if (!server.listening) res.shouldKeepAlive = false;
    try {
      const head = headProblem(req.method ?? 'GET', req.headers, req.rawHeaders, maxHeaders, req.httpVersion);
      if (head !== undefined) {
        const reason = head.status === 431 ? 'header_too_large' : 'malformed_http';
        observe.refused(reason, engine.policyName(), {
          detail: head.description,
          method: req.method,
          client: req.socket.remoteAddress,
        });
        // The framing is in doubt: what follows on the connection is not read as a request.
        return respond(res, { ...refusalWith(reason, head.status, head.description), close: true });
      }
      const facts = readRequest(req);
      // A problem in the facts is the framing's: the connection is closed after the answer.
      const close = facts.problem !== undefined;
      const decision = engine.decide(facts);
      if (decision instanceof Promise) {
        // A throw in `complete` must not become an unhandled rejection (the process exits).
        decision
          .then((d) => complete(req, res, facts, close, d, started))
          .catch((err: unknown) => internalError(res, err));
      } else {
        complete(req, res, facts, close, decision, started);
      }
    } catch (err) {
      internalError(res, err);
    }
  };
  server.on('request', onRequest);
  // Expect: 100-continue: decided like any request; 100 is sent only when it will be forwarded.
  server.on('checkContinue', onRequest);
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    const description = 'only Expect: 100-continue is supported';
    observe.refused('malformed_http', engine.policyName(), {
      detail: description,
      method: req.method,
      client: req.socket.remoteAddress,
    });
    respond(res, refusalWith('malformed_http', 417, description));
  });

  server.on('connection', (socket: Socket) => {
    if (limiter.admit(socket)) return;
    overCap.add(socket);
    observe.refused('connection_limit', engine.policyName(), { client: socket.remoteAddress });
    respondRaw(socket, refusal('connection_limit'));
  });

  // CONNECT would open a tunnel past every rule: refused with an answer, not a silent close.
  server.on('connect', (req: IncomingMessage, socket: Socket) => {
    // node:http removes its own error listener from a socket it hands over: ours, or the
    // process dies when the client resets before the answer is written.
    socket.on('error', () => socket.destroy());
    observe.refused('upgrade_refused', engine.policyName(), {
      method: req.method,
      client: socket.remoteAddress,
    });
    respondRaw(socket, refusalWith('upgrade_refused', 405, 'CONNECT is not supported'));
  });

  // WebSocket and other upgrades are not proxied: refuse them explicitly rather than hang.
  server.on('upgrade', (req: IncomingMessage, socket: Socket) => {
    socket.on('error', () => socket.destroy());
    observe.refused('upgrade_refused', engine.policyName(), {
      method: req.method,
      client: socket.remoteAddress,
    });
    respondRaw(socket, refusal('upgrade_refused'));
  });

  server.on('clientError', (err: Error & { code?: string }, socket: Socket) => {
    if (err.code === 'ECONNRESET' || err.code === 'EPIPE' || inExchange.has(socket)) {
      socket.destroy(); // the client left: nothing to answer
      return;
    }
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      if (socket.writable)
        observe.refused('timeout', engine.policyName(), {
          detail: 'request head',
          client: socket.remoteAddress,
        });
      respondRaw(socket, refusal('timeout'));
      return;
    }
    const reason = err.code === 'HPE_HEADER_OVERFLOW' ? 'header_too_large' : 'malformed_http';
    if (socket.writable)
      observe.refused(reason, engine.policyName(), { code: err.code, client: socket.remoteAddress });
    respondRaw(socket, refusal(reason));
  });
  return server;
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
