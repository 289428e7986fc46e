/**
 * The enforcing listener. Every request ends in exactly one of: refused here (smuggling shape,
 * unsafe path), refused by the engine's decision, or forwarded. Nothing reaches the app without
 * a decision: an exception anywhere on the way answers 500 and is never forwarded.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '../log/logger.js';
import type { SidecarMetrics } from '../metrics/sidecar.js';
import type { Decision, Reject } from '../decide/decision.js';
import type { Engine, RequestFacts } from '../decide/engine.js';
import { challengeFor, unavailableChallenge, type Challenge } from './challenge.js';
import type { Upstream } from './forward.js';
import { smugglingShape, upstreamHeaders } from './headers.js';
import { normalisePath } from '../policy/normalize.js';

export interface ProxyServerOptions {
  engine: Engine;
  upstream: Upstream;
  metrics: SidecarMetrics;
  log: Logger;
  /** Largest request head accepted; bigger answers 431. */
  maxHeaderBytes?: number;
}

export function createProxyServer(opts: ProxyServerOptions): http.Server {
  const { engine, upstream, metrics, log } = opts;
  const server = http.createServer({
    maxHeaderSize: opts.maxHeaderBytes ?? 32 * 1024,
    keepAliveTimeout: 65_000,
    requestTimeout: 300_000,
    // Refuse ambiguous framing in the parser itself, before any of our code runs.
    insecureHTTPParser: false,
  });

  const refuse = (res: ServerResponse, c: Challenge): void => {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'cache-control': 'no-store',
      'content-length': String(Buffer.byteLength(c.body)),
    };
    if (c.wwwAuthenticate !== undefined) headers['www-authenticate'] = c.wwwAuthenticate;
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
    const headers = upstreamHeaders(req.headers, d.strip, d.headers, facts.client);
    upstream.forward(req, res, facts.target, headers, (kind, err) => {
      metrics.upstreamErrors.inc({ kind });
      log.warn({ kind, err: err.message, method: facts.method, path: facts.path }, 'upstream failed');
    });
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

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
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
      const smuggling = smugglingShape(req.headers, req.rawHeaders);
      if (smuggling !== undefined) {
        res.shouldKeepAlive = false;
        return badRequest(res, facts, smuggling, started);
      }
      const normalised = normalisePath(rawPath);
      if (!normalised.ok) return badRequest(res, facts, normalised.description, started);
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
  });

  // WebSocket and other upgrades are not proxied: refuse them explicitly rather than hang.
  server.on('upgrade', (_req: IncomingMessage, socket: Socket) => {
    socket.end('HTTP/1.1 501 Not Implemented\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
  });

  server.on('clientError', (err: Error & { code?: string }, socket: Socket) => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const status =
      err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  });
  return server;
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
