/**
 * A sidecar's acks on its own stream: the request body of `POST /v1/config`, an NDJSON stream
 * of ack lines (protocol.ts `StreamAck`) read as they arrive for the life of the session. The
 * connection is the session and its token was reviewed when it opened, so a line carries
 * neither; each is judged by the same `hub.ack` as `POST /v1/ack` (an exact generation and
 * version the session was sent). This is what an ack costs the operator here: a line cut, one
 * small `JSON.parse`, the hub's bookkeeping; no HTTP request, routing or reply (ADR 0011).
 *
 * Invariants: at most `MAX_STREAM_ACK_BYTES` of a partial line are held; a line that is no ack
 * (or too long) ends the session (bad_ack) and nothing after it is read; the body ending (the
 * sidecar half-closed) ends nothing: the session ends when its response or socket closes.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { LineSplitter } from '../../distribution/lines.js';
import { MAX_STREAM_ACK_BYTES, parseStreamAck, type StreamAck } from '../../distribution/protocol.js';
import type { Logger } from '../../log/logger.js';
import type { OperatorMetrics } from '../../metrics/operator.js';
import type { StreamHub } from './hub.js';
import type { Session } from './sessions.js';
import type { Dropped } from './stream-socket.js';

export interface AckLineHandlers {
  readonly ack: (ack: StreamAck) => void;
  /** A line that is no ack, or longer than `MAX_STREAM_ACK_BYTES`; reading has stopped. */
  readonly bad: (error: string) => void;
}

/**
 * Reads ack lines from `body` until the returned `stop()` or the first bad line. The body's
 * end and errors are not the reader's to act on (the socket's close ends the session).
 */
export function readAckLines(body: Readable, h: AckLineHandlers): () => void {
  const lines = new LineSplitter(MAX_STREAM_ACK_BYTES);
  let reading = true;
  const stop = (): void => {
    reading = false;
    // Still flowing: whatever else arrives is read and dropped, never left to fill a buffer.
    body.off('data', onData);
  };
  const fail = (error: string): void => {
    stop();
    h.bad(error);
  };
  function onData(chunk: Buffer): void {
    if (!reading) return;
    const pushed = lines.push(chunk);
    if (!pushed.ok) return fail(`line: ${pushed.error}`);
    for (const line of pushed.lines) {
      const parsed = parseStreamAck(line);
      if (!parsed.ok) return fail(parsed.error);
      h.ack(parsed.value);
      if (!reading) return;
    }
  }
  body.on('data', onData);
  body.on('error', () => undefined);
  return stop;
}

export interface StreamAcksDeps {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly session: Session;
  readonly hub: Pick<StreamHub, 'ack'>;
  readonly log: Logger;
  readonly metrics?: OperatorMetrics;
  /** Ends the session's stream (stream-socket.ts `drop`); its close counts the reason. */
  readonly drop: (reason: Dropped) => void;
}

/** Takes the acks of `session` from its request body until its response closes. */
export function takeStreamAcks(d: StreamAcksDeps): void {
  const id = d.session.id;
  const stop = readAckLines(d.req, {
    ack: ({ generation, version }) => {
      const outcome = d.hub.ack({ session: id, generation, version });
      // Ignored, as a refused POST /v1/ack is: the session goes on, this ack counts for nothing.
      if (outcome === 'unsent_version') {
        d.metrics?.streamErrors.inc({ reason: 'unsent_version' });
        d.log.debug({ session: id, generation }, 'ack refused: unsent version');
      }
    },
    bad: (error) => {
      d.log.info({ session: id, err: error }, 'ack line refused; closing session');
      d.drop('bad_ack');
    },
  });
  d.res.once('close', () => {
    stop();
    // A request body still open would hold the connection: close it once the response is out.
    if (!d.req.complete) d.req.socket.destroySoon();
  });
}
