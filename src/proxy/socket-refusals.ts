/**
 * Answers the enforcing listener gives outside any exchange, each counted and logged as a
 * refusal: a connection over the cap, an Expect other than 100-continue, CONNECT, upgrades, and
 * what node:http's parser refuses before a request exists (ADR 0007). None of them is decided:
 * no request of these reaches the engine, and none reaches the app.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Engine } from '../decide/engine.js';
import type { ConnectionLimiter } from './http-guards.js';
import type { Observer } from './observe.js';
import { refusal, refusalWith, respond, respondRaw } from './respond.js';

/** What the exchange (exchange.ts) and the handlers here tell each other about a socket. */
export interface SocketMarks {
  /**
   * Sockets with an exchange under way: a parse error there (a body the parser refuses) is the
   * exchange's, answered and counted once by it, never by the clientError handler a second time.
   */
  readonly inExchange: WeakSet<Socket>;
  /** Connections refused at the cap: whatever their first packet holds is never decided. */
  readonly overCap: WeakSet<Socket>;
}

export interface SocketRefusalContext {
  readonly engine: Engine;
  readonly observe: Observer;
  readonly limiter: ConnectionLimiter;
  readonly marks: SocketMarks;
}

/** Installs every handler of answers given outside an exchange on `server`. */
export function refuseOutsideExchanges(server: Server, ctx: SocketRefusalContext): void {
  const { engine, observe } = ctx;
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
    if (ctx.limiter.admit(socket)) return;
    ctx.marks.overCap.add(socket);
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

  server.on('clientError', (err: Error & { code?: string }, socket: Socket) =>
    refuseClientError(ctx, err, socket),
  );
}

/**
 * What node:http's parser refused, or a head that did not arrive in time. A socket whose client
 * left, or whose exchange is under way (that exchange answers), gets no answer here.
 */
function refuseClientError(
  { engine, observe, marks }: SocketRefusalContext,
  err: Error & { code?: string },
  socket: Socket,
): void {
  if (err.code === 'ECONNRESET' || err.code === 'EPIPE' || marks.inExchange.has(socket)) {
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
}
