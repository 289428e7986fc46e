/**
 * Reading a request body so that a slow client cannot hold an upstream connection (ADR 0007,
 * 0014). Bodies up to `bufferBytes` are read whole before the upstream is asked for a
 * connection; a larger body is streamed, its first `bufferBytes` buffered first. The buffer is
 * claimed from the shared BufferBudget until the body ends; with none left, the body streams
 * from its first byte. In both cases the client must keep sending: no byte for
 * `idleTimeoutMs`, or fewer than `minBytesPerSecond` per second over the last `graceMs` (a
 * sliding window) once `graceMs` have passed, ends the request with 408 (or cuts it if the app
 * has answered already). A streamed body reports since when it has waited on its client, so
 * that the upstream pool can cut it when others wait (src/proxy/forward.ts). One unref'd 1 s
 * timer per body being read; none for bodiless requests.
 */
import type { IncomingMessage } from 'node:http';
import { PassThrough, type Readable } from 'node:stream';
import type { BufferBudget } from './buffer-budget.js';

export interface BodyLimits {
  /** Bodies up to this size are buffered before forwarding. */
  readonly bufferBytes: number;
  /** No byte for this long ends the request. */
  readonly idleTimeoutMs: number;
  /** Average rate required over every `graceMs` window once `graceMs` have passed. */
  readonly minBytesPerSecond: number;
  readonly graceMs: number;
}

export type BodyResult =
  | { kind: 'buffered'; body: Buffer }
  | { kind: 'stream'; body: Readable; stalledSince: () => number | undefined }
  | { kind: 'timeout'; description: string }
  | { kind: 'aborted' };

/**
 * Reads `req`'s body. Resolves once it is whole (≤ bufferBytes), once bufferBytes have arrived
 * (then `stream` carries them and the rest), or on a timeout / client abort. `onLateTimeout` is
 * called if a streamed body stalls after the promise resolved (the caller cuts the exchange).
 */
export function readBody(
  req: IncomingMessage,
  limits: BodyLimits,
  onLateTimeout: (description: string) => void,
  budget?: BufferBudget,
): Promise<BodyResult> {
  return new Promise((resolve) => {
    // The buffer's bound is claimed from the shared budget; none left: the body streams at once.
    const claimed = budget?.take(limits.bufferBytes) !== false;
    const bufferBytes = claimed ? limits.bufferBytes : 0;
    let givenBack = !claimed || budget === undefined;
    const giveBack = (): void => {
      if (givenBack) return;
      givenBack = true;
      budget?.give(limits.bufferBytes);
    };
    const started = Date.now();
    let lastData = started;
    let received = 0;
    const chunks: Buffer[] = [];
    /** [time, bytes received by then], one per check, covering the last `graceMs`. */
    const samples: [number, number][] = [[started, 0]];
    let stream: PassThrough | undefined;
    /** The stream is full (the app is not taking the body): the wait is not the client's. */
    let waitingOnApp = false;
    let ended = false;
    let settled = false;
    const settle = (r: BodyResult): void => {
      if (settled) return;
      settled = true;
      resolve(r);
    };
    const stop = (): void => {
      giveBack();
      clearInterval(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('aborted', onAbort);
      req.off('error', onAbort);
    };
    const check = (): void => {
      const now = Date.now();
      let why: string | undefined;
      if (now - lastData >= limits.idleTimeoutMs) why = `no body data for ${limits.idleTimeoutMs} ms`;
      else {
        // The rate is judged over the last `graceMs` (a window), not since the start: a burst
        // at the start must not buy a long trickle afterwards.
        samples.push([now, received]);
        while (samples.length > 1 && now - samples[1]![0] >= limits.graceMs) samples.shift();
        const [at, had] = samples[0]!;
        if (now - started > limits.graceMs && now - at >= limits.graceMs) {
          const needed = (limits.minBytesPerSecond * (now - at)) / 1000;
          if (received - had < needed) why = `body slower than ${limits.minBytesPerSecond} bytes/s`;
        }
      }
      if (why === undefined) return;
      stop();
      if (!settled) settle({ kind: 'timeout', description: why });
      else {
        stream?.destroy(new Error(why));
        onLateTimeout(why);
      }
    };
    const timer = setInterval(check, Math.min(1000, limits.idleTimeoutMs));
    timer.unref();
    const onData = (chunk: Buffer): void => {
      lastData = Date.now();
      received += chunk.length;
      if (stream !== undefined) {
        if (!stream.write(chunk)) {
          req.pause();
          waitingOnApp = true;
          stream.once('drain', () => {
            waitingOnApp = false;
            lastData = Date.now();
            req.resume();
          });
        }
        return;
      }
      chunks.push(chunk);
      if (received > bufferBytes) {
        stream = new PassThrough({ highWaterMark: claimed ? limits.bufferBytes : 16 * 1024 });
        // This reader's timer and abort handler destroy the stream with an error, so it owns
        // that error: whoever else reads the stream (undici) may have left, or never come
        // (a 503 upstream_busy), and an 'error' nobody listens for ends the process.
        stream.on('error', () => undefined);
        for (const c of chunks) stream.write(c);
        chunks.length = 0;
        const stalledSince = (): number | undefined => (ended || waitingOnApp ? undefined : lastData);
        settle({ kind: 'stream', body: stream, stalledSince });
      }
    };
    const onEnd = (): void => {
      ended = true;
      stop();
      if (stream !== undefined) stream.end();
      else settle({ kind: 'buffered', body: Buffer.concat(chunks, received) });
    };
    const onAbort = (): void => {
      stop();
      if (stream !== undefined) stream.destroy(new Error('client aborted the body'));
      settle({ kind: 'aborted' });
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('aborted', onAbort);
    req.on('error', onAbort);
  });
}
