/**
 * A session's end of a hijacked `GET /v1/config` response. Lines produced while the session
 * opens (its first snapshot or delta) are held until the headers are out; after that each line
 * is written as it comes, a head and its shared body corked into one TLS record. A peer that
 * does not read is dropped once its unsent bytes pass `maxBuffered` (slow_consumer): the
 * operator never holds every message for it (ADR 0011).
 */
import type { ServerResponse } from 'node:http';
import { STREAM_CONTENT_TYPE } from '../../distribution/protocol.js';
import type { SessionIo } from './sessions.js';

export class StreamSocket {
  readonly #raw: ServerResponse;
  readonly #maxBuffered: number;
  readonly #early: [string, Buffer | undefined][] = [];
  #live = false;
  #ended = false;
  #slow = false;

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

  /** Sends the headers and the held lines; `onClose(slow)` runs once when the response ends. */
  goLive(onClose: (slow: boolean) => void): void {
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
    raw.on('close', () => onClose(this.#slow));
    if (this.#ended) raw.end();
  }

  #write(line: string, body?: Buffer): boolean {
    if (this.#slow) return false;
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
      this.#slow = true;
      raw.destroy();
    }
    return ok;
  }
}
