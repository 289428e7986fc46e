/**
 * The enforcing listener, three steps per request: read the facts (request-facts.ts), decide
 * (src/decide/engine.ts), then record (observe.ts) and answer (respond.ts) or forward
 * (forward.ts). Every request ends in exactly one answer, and every answer the sidecar gives
 * itself is counted. Nothing reaches the app without a decision: an exception anywhere on the
 * way answers 500 and is never forwarded.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Decision } from '../decide/decision.js';
import type { Engine, RequestFacts } from '../decide/engine.js';
import type { Logger } from '../log/logger.js';
import type { SidecarMetrics } from '../metrics/sidecar.js';
import { challengeFor } from './challenge.js';
import type { Upstream } from './forward.js';
import { upstreamHeaders } from './headers.js';
import { createObserver } from './observe.js';
import { readRequest } from './request-facts.js';
import { refusal, respond, respondRaw } from './respond.js';

export interface ProxyServerOptions {
  engine: Engine;
  upstream: Upstream;
  metrics: SidecarMetrics;
  log: Logger;
  /** Largest request head accepted; bigger answers 431. */
  maxHeaderBytes?: number;
}

export function createProxyServer(opts: ProxyServerOptions): http.Server {
  const { engine, upstream } = opts;
  const observe = createObserver(opts.metrics, opts.log);
  const server = http.createServer({
    maxHeaderSize: opts.maxHeaderBytes ?? 32 * 1024,
    keepAliveTimeout: 65_000,
    requestTimeout: 300_000,
    // Refuse ambiguous framing in the parser itself, before any of our code runs.
    insecureHTTPParser: false,
  });

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
      return respond(res, close ? { ...answer, close } : answer);
    }
    const headers = upstreamHeaders(req.headers, d.strip, d.headers, facts.client);
    upstream.forward(req, res, facts.target, headers, (kind, err) =>
      observe.upstreamFailed(kind, err, facts),
    );
  };

  const internalError = (res: ServerResponse, err: unknown): void => {
    observe.refused('internal_error', engine.policyName(), {
      err: err instanceof Error ? err.message : String(err),
    });
    respond(res, refusal('internal_error'));
  };

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const started = process.hrtime.bigint();
    // Draining for shutdown: answer, then close the connection instead of keeping it alive.
    if (!server.listening) res.shouldKeepAlive = false;
    try {
      const { facts, close } = readRequest(req);
      const decision = engine.decide(facts);
      if (decision instanceof Promise) {
        decision.then(
          (d) => complete(req, res, facts, close, d, started),
          (err: unknown) => internalError(res, err),
        );
      } else {
        complete(req, res, facts, close, decision, started);
      }
    } catch (err) {
      internalError(res, err);
    }
  });

  // WebSocket and other upgrades are not proxied: refuse them explicitly rather than hang.
  server.on('upgrade', (req: IncomingMessage, socket: Socket) => {
    observe.refused('upgrade_refused', engine.policyName(), {
      method: req.method,
      client: socket.remoteAddress,
    });
    respondRaw(socket, refusal('upgrade_refused'));
  });

  server.on('clientError', (err: Error & { code?: string }, socket: Socket) => {
    const reason = err.code === 'HPE_HEADER_OVERFLOW' ? 'header_too_large' : 'malformed_http';
    if (socket.writable)
      observe.refused(reason, engine.policyName(), { code: err.code, client: socket.remoteAddress });
    respondRaw(socket, refusal(reason));
  });
  return server;
}
