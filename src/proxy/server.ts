/**
 * The enforcing listener. Every request ends in exactly one of: refused here (smuggling shape,
 * unsafe path, protocol limits), refused by the engine's decision, or forwarded. Nothing reaches
 * the app without a decision: an exception anywhere on the way answers 500 and is never
 * forwarded. Every answer the sidecar gives itself is counted in tokenwarden_requests_total
 * (protocol refusals with decision `deny` in Audit mode too) and logged, rate-limited.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type { Logger } from '../log/logger.js';
import type { SidecarMetrics } from '../metrics/sidecar.js';
import type { Decision, Reject } from '../decide/decision.js';
import type { Engine, RequestFacts } from '../decide/engine.js';
import { challengeFor, unavailableChallenge, type Challenge } from './challenge.js';
import type { Upstream } from './forward.js';
import { smugglingShape, upstreamHeaders } from './headers.js';
import { hasNonAscii, normalisePath } from '../policy/normalize.js';
import type { ProtocolReason } from '../core/reasons.js';
import { DEFAULT_BODY_LIMITS, readBody, type BodyLimits } from './body.js';
import {
  ConnectionLimiter,
  DEFAULT_MAX_HEADERS,
  RateLimitedLog,
  headProblem,
  rawAnswer,
} from './protocol.js';

export interface ProxyServerOptions {
  engine: Engine;
  upstream: Upstream;
  metrics: SidecarMetrics;
  log: Logger;
  /** Largest request head accepted; bigger answers 431. */
  maxHeaderBytes?: number;
  /** Most header fields accepted; more answers 431. Default 100. */
  maxHeaders?: number;
  /** The whole request head must arrive within this; else 408. Default 10 s. */
  headersTimeoutMs?: number;
  /** Body buffering, idle timeout and minimum rate (src/proxy/body.ts). */
  body?: Partial<BodyLimits>;
  /** Open connections per client address; more are answered 503 and closed. Default 256. */
  maxConnectionsPerClient?: number;
}

const PROTOCOL_ERROR: Record<ProtocolReason, string> = {
  malformed_http: 'invalid_request',
  timeout: 'request_timeout',
  upgrade_refused: 'not_supported',
  no_policy: 'temporarily_unavailable',
  connection_limit: 'temporarily_unavailable',
  upstream_busy: 'temporarily_unavailable',
  upstream_error: 'bad_gateway',
};

export function createProxyServer(opts: ProxyServerOptions): http.Server {
  const { engine, upstream, metrics, log } = opts;
  const maxHeaders = opts.maxHeaders ?? DEFAULT_MAX_HEADERS;
  const bodyLimits: BodyLimits = { ...DEFAULT_BODY_LIMITS, ...opts.body };
  const server = http.createServer({
    maxHeaderSize: opts.maxHeaderBytes ?? 32 * 1024,
    keepAliveTimeout: 65_000,
    headersTimeout: opts.headersTimeoutMs ?? 10_000,
    requestTimeout: 300_000,
    // Timeouts are checked this often (Node's default, 30 s, would let a slow head live that long).
    connectionsCheckingInterval: 1_000,
    // Refuse ambiguous framing in the parser itself, before any of our code runs.
    insecureHTTPParser: false,
  });
  // One more than the limit, so that a request over it is seen (and refused) rather than cut.
  server.maxHeadersCount = maxHeaders + 1;
  const limiter = new ConnectionLimiter(opts.maxConnectionsPerClient ?? 256);
  const protocolLog = new RateLimitedLog(log);

  /** Counts and logs one answer the sidecar gives itself below the token decision. */
  const countProtocol = (reason: ProtocolReason, detail: string, fields: Record<string, unknown>): void => {
    metrics.countRequest(engine.policyName(), 'deny', reason);
    protocolLog.warn(
      reason,
      { decision: 'deny', detail, policy: engine.policyName(), enforcedInAudit: true, ...fields },
      'request refused (protocol; enforced in Audit mode too)',
    );
  };
  const protocolAnswer = (
    res: ServerResponse,
    status: number,
    reason: ProtocolReason,
    description: string,
    fields: Record<string, unknown>,
  ): void => {
    countProtocol(reason, description, fields);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const body = JSON.stringify({ error: PROTOCOL_ERROR[reason], error_description: description });
    res.shouldKeepAlive = false;
    res.writeHead(status, {
      'content-type': 'application/json',
      'cache-control': 'no-store',
      'content-length': String(Buffer.byteLength(body)),
    });
    res.end(body);
  };

  const refuse = (res: ServerResponse, c: Challenge): void => {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'cache-control': 'no-store',
      'content-length': String(Buffer.byteLength(c.body)),
    };
    if (c.wwwAuthenticate !== undefined) headers['www-authenticate'] = c.wwwAuthenticate;
    // A body left unread (a refusal before reading it) is not drained for keep-alive: a slow
    // client could hold the socket doing that. The connection closes instead.
    if (!res.req.complete) res.shouldKeepAlive = false;
    res.writeHead(c.status, headers);
    res.end(c.body);
  };

  const logDenial = (d: Reject | (Decision & { kind: 'forward' }), facts: RequestFacts): void => {
    log.info(
      {
        decision: d.kind === 'forward' ? d.decision : 'deny',
        reason: d.reason,
        detail: d.description,
        policy: engine.policyName(),
        rule: d.rule,
        method: facts.method,
        path: facts.path,
        client: facts.client,
        fingerprint: d.token?.fingerprint,
        sub: d.token?.sub,
        jti: d.token?.jti,
        iss: d.token?.iss,
      },
      d.kind === 'forward' ? 'token would be rejected (audit)' : 'request rejected',
    );
  };

  const apply = (
    req: IncomingMessage,
    res: ServerResponse,
    facts: RequestFacts,
    d: Decision,
    started: bigint,
  ): void => {
    metrics.authDuration.record(Number(process.hrtime.bigint() - started) / 1e9);
    if (d.kind === 'unavailable') {
      countProtocol('no_policy', d.description, { method: facts.method, path: facts.path });
      refuse(res, unavailableChallenge());
      return;
    }
    const policy = engine.policyName();
    if (d.kind === 'reject') {
      metrics.countRequest(policy, 'deny', d.reason);
      if (d.reason === 'reused') metrics.tokenReuse.inc({ policy });
      logDenial(d, facts);
      refuse(res, challengeFor(d));
      return;
    }
    metrics.countRequest(policy, d.decision, d.reason);
    if (d.decision === 'audit_deny') {
      if (d.reason === 'reused') metrics.tokenReuse.inc({ policy });
      logDenial(d, facts);
    } else if (d.reason === 'ok') {
      const now = Date.now() / 1000;
      if (d.exp !== undefined) metrics.remainingLifetime.record(Math.max(0, d.exp - now));
      if (d.iat !== undefined) metrics.tokenAge.record(Math.max(0, now - d.iat));
      if (log.isLevelEnabled('debug')) {
        log.debug(
          {
            policy,
            rule: d.rule,
            method: facts.method,
            path: facts.path,
            fingerprint: d.token?.fingerprint,
            sub: d.token?.sub,
          },
          'request allowed',
        );
      }
    }
    const headers = upstreamHeaders(req.headers, d.strip, d.headers, facts.client, {
      allowUnderscores: d.allowUnderscores,
      trustedPeer: d.trustedProxies?.has(facts.client) === true,
      keepToken: d.keepToken,
    });
    const target = withoutAccessToken(facts.target);
    const fields = { method: facts.method, path: facts.path, client: facts.client };
    const send = (body: Buffer | Readable | null): void =>
      upstream.forward(
        facts.method,
        res,
        target,
        headers,
        body,
        (kind, err) => {
          metrics.upstreamErrors.inc({ kind });
          countProtocol('upstream_error', err.message, { kind, ...fields });
        },
        () => protocolAnswer(res, 503, 'upstream_busy', 'no upstream connection became free in time', fields),
      );
    const hasBody =
      req.headers['transfer-encoding'] !== undefined ||
      (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');
    // Expect: 100-continue is answered only now, for a request that will be forwarded.
    if (hasBody && /^100-continue$/i.test(req.headers.expect ?? '')) res.writeContinue();
    if (!hasBody) return send(null);
    // The body is read (small ones whole) before an upstream connection is taken: a slow
    // client holds a socket of the sidecar, never one of the app.
    readBody(req, bodyLimits, (why) => {
      countProtocol('timeout', why, fields);
      res.destroy();
    }).then(
      (b) => {
        if (b.kind === 'aborted') return;
        if (b.kind === 'timeout') return protocolAnswer(res, 408, 'timeout', b.description, fields);
        send(b.body);
      },
      (err: unknown) => internalError(res, log, err),
    );
  };

  const badRequest = (
    res: ServerResponse,
    facts: RequestFacts,
    description: string,
    started: bigint,
  ): void => {
    const reject: Reject = {
      kind: 'reject',
      stage: 'request',
      reason: 'malformed',
      description,
      rule: undefined,
      token: undefined,
    };
    metrics.authDuration.record(Number(process.hrtime.bigint() - started) / 1e9);
    metrics.countRequest(engine.policyName(), 'deny', 'malformed');
    logDenial(reject, facts);
    refuse(res, challengeFor(reject));
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const started = process.hrtime.bigint();
    // Draining for shutdown: answer, then close the connection instead of keeping it alive.
    if (!server.listening) res.shouldKeepAlive = false;
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const rawPath = q === -1 ? url : url.slice(0, q);
    const query = q === -1 ? '' : url.slice(q + 1);
    const facts: RequestFacts = {
      method: req.method ?? 'GET',
      path: rawPath,
      target: url,
      query,
      authorization: req.headers.authorization,
      authorizationCount: 0,
      client: req.socket.remoteAddress,
    };
    try {
      const head = headProblem(facts.method, req.headers, req.rawHeaders, maxHeaders);
      if (head !== undefined) {
        const fields = { method: facts.method, client: facts.client };
        return protocolAnswer(res, head.status, 'malformed_http', head.description, fields);
      }
      const smuggling = smugglingShape(req.headers, req.rawHeaders);
      if (smuggling !== undefined) {
        res.shouldKeepAlive = false;
        return badRequest(res, facts, smuggling, started);
      }
      if (query.includes('#')) return badRequest(res, facts, "fragment ('#') in the request target", started);
      const pathOptions = engine.pathOptions();
      const normalised = normalisePath(rawPath, pathOptions);
      if (!normalised.ok) return badRequest(res, facts, normalised.description, started);
      // A case-insensitive router may fold non-ASCII letters onto ASCII ones (ı → I): refused.
      if (pathOptions.caseInsensitive && hasNonAscii(normalised.path)) {
        return badRequest(res, facts, 'non-ASCII path under case-insensitive matching', started);
      }
      facts.path = normalised.path;
      // The app sees the path the rules were matched against, never the raw one.
      facts.target = q === -1 ? normalised.path : `${normalised.path}?${query}`;
      facts.authorizationCount = countAuthorization(req.rawHeaders);
      const decision = engine.decide(facts);
      if (decision instanceof Promise) {
        decision.then(
          (d) => apply(req, res, facts, d, started),
          (err: unknown) => internalError(res, log, err),
        );
      } else {
        apply(req, res, facts, decision, started);
      }
    } catch (err) {
      internalError(res, log, err);
    }
  };
  server.on('request', onRequest);
  // Expect: 100-continue: decided like any request; 100 is sent only when it will be forwarded.
  server.on('checkContinue', onRequest);
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    protocolAnswer(res, 417, 'malformed_http', 'only Expect: 100-continue is supported', {
      method: req.method,
      client: req.socket.remoteAddress,
    });
  });

  server.on('connection', (socket: Socket) => {
    if (limiter.admit(socket)) return;
    countProtocol('connection_limit', 'too many connections from this address', {
      client: socket.remoteAddress,
    });
    rawAnswer(socket, 503, 'temporarily_unavailable', 'too many connections from this address');
  });

  // WebSocket, h2c and other upgrades are not proxied: refuse them explicitly rather than hang.
  server.on('upgrade', (req: IncomingMessage, socket: Socket) => {
    countProtocol('upgrade_refused', `Upgrade: ${String(req.headers.upgrade).slice(0, 32)}`, {
      method: req.method,
      client: socket.remoteAddress,
    });
    rawAnswer(socket, 501, 'not_supported', 'protocol upgrades are not proxied');
  });
  // CONNECT would open a tunnel past every rule: refused with an answer, not a silent close.
  server.on('connect', (req: IncomingMessage, socket: Socket) => {
    countProtocol('upgrade_refused', 'CONNECT', { method: req.method, client: socket.remoteAddress });
    rawAnswer(socket, 405, 'not_supported', 'CONNECT is not supported');
  });

  server.on('clientError', (err: Error & { code?: string }, socket: Socket) => {
    const fields = { client: socket.remoteAddress, code: err.code };
    if (err.code === 'ECONNRESET' || err.code === 'EPIPE' || !socket.writable) {
      socket.destroy(); // the client left: nothing to answer
      return;
    }
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      countProtocol('timeout', 'request head or body too slow', fields);
      rawAnswer(socket, 408, 'request_timeout', 'the request was not received in time');
      return;
    }
    const overflow = err.code === 'HPE_HEADER_OVERFLOW';
    countProtocol('malformed_http', overflow ? 'request head too large' : err.message, fields);
    rawAnswer(
      socket,
      overflow ? 431 : 400,
      'invalid_request',
      overflow ? 'the request head is too large' : 'the request is not valid HTTP/1.1',
    );
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

/** RFC 6750 allows one token per request; a second Authorization header is a malformed request. */
function countAuthorization(raw: readonly string[]): number {
  let n = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    if (name !== undefined && name.length === 13 && name.toLowerCase() === 'authorization') n++;
  }
  return n;
}

function internalError(res: ServerResponse, log: Logger, err: unknown): void {
  log.error({ err: err instanceof Error ? err.message : String(err) }, 'internal error deciding request');
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ error: 'server_error', error_description: 'internal error' });
  res.writeHead(500, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
  });
  res.end(body);
}
