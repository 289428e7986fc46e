/**
 * A session's end of a hijacked `/v1/config` response. Lines produced while the session
 * opens (its first snapshot or delta) are held until the headers are out; after that each line
 * is written as it comes, a head and its shared body corked into one TLS record. A peer that
 * does not read is dropped once its unsent bytes pass `maxBuffered` (slow_consumer): the
 * operator never holds every message for it (ADR 0011).
 *
 * Once the headers are on the socket, each line is framed here as one HTTP/1.1 chunk and
 * written to the socket itself: `<size>\r\n<head>` and the shared body with its `\r\n` (framed
 * once per body, not per session). Node's chunked writer would turn a head and a body into six
 * buffers and costs more CPU per line (`bench:stream-writes` measures both; the gain varied from
 * 2% to 17% between runs); a push to a thousand sessions is a thousand such writes. `end()` still goes through the response, whose last chunk follows ours in order.
 * A response that is not chunked (an HTTP/1.0 peer) or whose headers are still queued behind
 * another response keeps Node's writer.
 */
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { STREAM_CONTENT_TYPE } from '../../distribution/protocol.js';
import type { CloseReason, SessionIo } from './sessions.js';

/** Why the operator dropped a stream on its own (every other end is the hub's or the peer's). */
export type Dropped = Extract<CloseReason, 'slow_consumer' | 'bad_ack'>;

export class StreamSocket {
  readonly #raw: ServerResponse;
  readonly #maxBuffered: number;
  readonly #early: [string, Buffer | undefined][] = [];
  #live = false;
  #ended = false;
  #dropped: Dropped | undefined;
  /** The socket lines are framed onto directly, once the headers went out before them. */
  #direct: Socket | undefined;

  constructor(raw: ServerResponse, maxBuffered: number) {
    this.#raw = raw;
    this.#maxBuffered = maxBuffered;
  }

  /** What the hub writes through. */
  readonly io: SessionIo = {
    write: (line, body) => (this.#live ? this.#write(line, body) : (this.#early.push([line, body]), true)),
    end: () => {
      this.#ended = true;
      if (this.#live) this.#raw.end();
    },
  };

  /** Sends the headers and the held lines; `onClose(dropped)` runs once when the response ends. */
  goLive(onClose: (dropped: Dropped | undefined) => void): void {
    const raw = this.#raw;
    raw.writeHead(200, {
      'content-type': STREAM_CONTENT_TYPE,
      'cache-control': 'no-store',
      // Proxies that buffer responses (nginx) would hold the stream back.
      'x-accel-buffering': 'no',
    });
    raw.flushHeaders();
    const socket = raw.socket;
    // Nothing of the response is queued outside the socket: our chunks follow its headers.
    if (raw.chunkedEncoding && socket !== null && raw.writableLength === socket.writableLength)
      this.#direct = socket;
    this.#live = true;
    for (const [line, body] of this.#early) this.#write(line, body);
    this.#early.length = 0;
    raw.on('close', () => onClose(this.#dropped));
    if (this.#ended) raw.end();
  }

  /** Ends the stream for `reason` (what was written still goes out); 'close' then reports it. */
  drop(reason: Dropped): void {
    if (this.#dropped !== undefined) return;
    this.#dropped = reason;
    this.#raw.end();
  }

  #write(line: string, body?: Buffer): boolean {
    if (this.#dropped !== undefined) return false;
    const raw = this.#raw;
    const direct = this.#direct;
    let ok: boolean;
    if (direct !== undefined) ok = writeChunk(direct, line, body);
    else if (body === undefined) ok = raw.write(line);
    else {
      // One TLS record for head and shared body.
      raw.cork();
      raw.write(line);
      ok = raw.write(body);
      raw.uncork();
    }
    if (!ok && (direct ?? raw).writableLength > this.#maxBuffered) {
      // Never read: stop holding its bytes. 'close' then ends the session as slow_consumer.
      this.#dropped = 'slow_consumer';
      raw.destroy();
    }
    return ok;
  }
}

const CRLF = Buffer.from('\r\n', 'latin1');
/** Each shared body with its chunk trailer, made once per body (the body is never changed). */
const framedBodies = new WeakMap<Buffer, Buffer>();

/** One chunk `<hex size>\r\n<line><body>\r\n` as one TLS record. */
function writeChunk(socket: Socket, line: string, body: Buffer | undefined): boolean {
  const size = Buffer.byteLength(line, 'utf8') + (body?.length ?? 0);
  if (body === undefined) return socket.write(`${size.toString(16)}\r\n${line}\r\n`, 'utf8');
  let framed = framedBodies.get(body);
  if (framed === undefined) framedBodies.set(body, (framed = Buffer.concat([body, CRLF])));
  socket.cork();
  socket.write(`${size.toString(16)}\r\n${line}`, 'utf8');
  socket.write(framed);
  socket.uncork();
  // Judged after the uncork: while corked, one line over the high-water mark would read as full.
  return socket.writableLength < socket.writableHighWaterMark;
}
