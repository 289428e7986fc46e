/**
 * A session's end of a hijacked `/v1/config` response. Lines produced while the session
 * opens (its first snapshot or delta) are held until the headers are out; after that each line
 * is written as it comes, a head and its shared body corked into one TLS record. A peer that
 * does not read is dropped once its unsent bytes pass `maxBuffered` (slow_consumer): the
 * operator never holds every message for it (ADR 0011).
 */
import type { ServerResponse } from 'node:http';
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
    let ok: boolean;
    if (body === undefined) ok = raw.write(line);
    else {
      // One TLS record for head and shared body.
      raw.cork();
      raw.write(line);
      ok = raw.write(body);
      raw.uncork();
    }
    if (!ok && raw.writableLength > this.#maxBuffered) {
      // Never read: stop holding its bytes. 'close' then ends the session as slow_consumer.
      this.#dropped = 'slow_consumer';
      raw.destroy();
    }
    return ok;
  }
}
