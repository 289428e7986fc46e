/**
 * The enforcing listener: node:http, configured against ambiguous framing and slow heads, with
 * two kinds of handler. Each request is one exchange (exchange.ts): read the facts
 * (request-facts.ts), decide (src/decide/engine.ts), then record (observe.ts) and answer
 * (respond.ts) or forward (forward.ts). Every request ends in exactly one answer, and every answer
 * the sidecar gives itself is counted. Nothing reaches the app without a decision: an exception
 * anywhere on the way answers 500 and is never forwarded. What is refused outside any exchange
 * (connection caps, CONNECT, upgrades, parser errors) is answered by socket-refusals.ts.
 * Protocol limits (ADR 0007): header count, Host, GET/HEAD bodies, Expect, per-client
 * connections, head and body timeouts, bodies buffered before an upstream connection is taken, a
 * bounded wait for one (src/proxy/http-guards.ts, body.ts).
 */
import http from 'node:http';
import type { Socket } from 'node:net';
import type { Engine } from '../decide/engine.js';
import type { Logger } from '../log/logger.js';
import type { SidecarMetrics } from '../metrics/sidecar.js';
import type { BodyLimits } from './body.js';
import { exchangeHandler } from './exchange.js';
import type { Upstream } from './forward.js';
import { ConnectionLimiter } from './http-guards.js';
import { createObserver } from './observe.js';
import { refuseOutsideExchanges, type SocketMarks } from './socket-refusals.js';

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
  server.maxHeadersCount = opts.maxHeaders + 1;
  const marks: SocketMarks = { inExchange: new WeakSet<Socket>(), overCap: new WeakSet<Socket>() };
  const limiter = new ConnectionLimiter(opts.maxConnectionsPerClient, opts.maxConnections);

  const onRequest = exchangeHandler({
    engine,
    upstream,
    observe,
    maxHeaders: opts.maxHeaders,
    body: opts.body,
    server,
    marks,
  });
  server.on('request', onRequest);
  // Expect: 100-continue: decided like any request; 100 is sent only when it will be forwarded.
  server.on('checkContinue', onRequest);
  refuseOutsideExchanges(server, { engine, observe, limiter, marks });
  return server;
}
