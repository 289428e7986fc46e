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
  return new Promise((resolve) => new BodyReader(req, limits, onLateTimeout, budget, resolve).start());
}

/**
 * The client's pace over one body: time since its last byte, and its rate over a sliding window
 * of the last `graceMs` (not since the start: a burst at the start must not buy a long trickle
 * afterwards). Pure: `now` is passed in.
 */
class ClientPace {
  readonly #limits: BodyLimits;
  readonly #started: number;
  #lastData: number;
  #received = 0;
  /** [time, bytes received by then], one per check, covering the last `graceMs`. */
  readonly #samples: [number, number][];

  constructor(limits: BodyLimits, now: number) {
    this.#limits = limits;
    this.#started = now;
    this.#lastData = now;
    this.#samples = [[now, 0]];
  }

  /** When the client last sent a byte (or last stopped waiting on the app). */
  get lastData(): number {
    return this.#lastData;
  }

  get received(): number {
    return this.#received;
  }

  /** `bytes` arrived at `now`. */
  got(bytes: number, now: number): void {
    this.#lastData = now;
    this.#received += bytes;
  }

  /** The app took what was waiting for it: the client's idle time counts from `now`. */
  resumed(now: number): void {
    this.#lastData = now;
  }

  /** Why the body is too slow at `now`, or undefined. Called once per check: it takes a sample. */
  problem(now: number): string | undefined {
    const limits = this.#limits;
    if (now - this.#lastData >= limits.idleTimeoutMs) return `no body data for ${limits.idleTimeoutMs} ms`;
    const samples = this.#samples;
    samples.push([now, this.#received]);
    while (samples.length > 1 && now - samples[1]![0] >= limits.graceMs) samples.shift();
    const [at, had] = samples[0]!;
    if (now - this.#started > limits.graceMs && now - at >= limits.graceMs) {
      const needed = (limits.minBytesPerSecond * (now - at)) / 1000;
      if (this.#received - had < needed) return `body slower than ${limits.minBytesPerSecond} bytes/s`;
    }
    return undefined;
  }
}

/**
 * One body being read: buffered up to `bufferBytes`, then spilled into a stream that carries the
 * buffered chunks and the rest. Its timer checks the client's pace until the body ends or is
 * aborted; the buffer's claim on the budget is given back then, exactly once.
 */
class BodyReader {
  readonly #req: IncomingMessage;
  readonly #limits: BodyLimits;
  readonly #onLateTimeout: (description: string) => void;
  readonly #budget: BufferBudget | undefined;
  readonly #resolve: (r: BodyResult) => void;
  /** The buffer's bound was claimed from the budget (or there is no budget). */
  readonly #claimed: boolean;
  /** Bytes buffered before the body streams: 0 when the budget had none left. */
  readonly #bufferBytes: number;
  #givenBack: boolean;
  readonly #pace: ClientPace;
  readonly #chunks: Buffer[] = [];
  #stream: PassThrough | undefined;
  /** The stream is full (the app is not taking the body): the wait is not the client's. */
  #waitingOnApp = false;
  #ended = false;
  #settled = false;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    req: IncomingMessage,
    limits: BodyLimits,
    onLateTimeout: (description: string) => void,
    budget: BufferBudget | undefined,
    resolve: (r: BodyResult) => void,
  ) {
    this.#req = req;
    this.#limits = limits;
    this.#onLateTimeout = onLateTimeout;
    this.#budget = budget;
    this.#resolve = resolve;
    // The buffer's bound is claimed from the shared budget; none left: the body streams at once.
    this.#claimed = budget?.take(limits.bufferBytes) !== false;
    this.#bufferBytes = this.#claimed ? limits.bufferBytes : 0;
    this.#givenBack = !this.#claimed || budget === undefined;
    this.#pace = new ClientPace(limits, Date.now());
  }

  start(): void {
    this.#timer = setInterval(this.#check, Math.min(1000, this.#limits.idleTimeoutMs));
    this.#timer.unref();
    const req = this.#req;
    req.on('data', this.#onData);
    req.on('end', this.#onEnd);
    req.on('aborted', this.#onAbort);
    req.on('error', this.#onAbort);
  }

  #settle(r: BodyResult): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#resolve(r);
  }

  #giveBack(): void {
    if (this.#givenBack) return;
    this.#givenBack = true;
    this.#budget?.give(this.#limits.bufferBytes);
  }

  /** The body ended, was aborted or timed out: no more checks, no more listening. */
  #stop(): void {
    this.#giveBack();
    clearInterval(this.#timer);
    const req = this.#req;
    req.off('data', this.#onData);
    req.off('end', this.#onEnd);
    req.off('aborted', this.#onAbort);
    req.off('error', this.#onAbort);
  }

  readonly #check = (): void => {
    const why = this.#pace.problem(Date.now());
    if (why === undefined) return;
    this.#stop();
    if (!this.#settled) this.#settle({ kind: 'timeout', description: why });
    else {
      this.#stream?.destroy(new Error(why));
      this.#onLateTimeout(why);
    }
  };

  readonly #onData = (chunk: Buffer): void => {
    this.#pace.got(chunk.length, Date.now());
    const stream = this.#stream;
    if (stream !== undefined) {
      if (!stream.write(chunk)) {
        this.#req.pause();
        this.#waitingOnApp = true;
        stream.once('drain', () => {
          this.#waitingOnApp = false;
          this.#pace.resumed(Date.now());
          this.#req.resume();
        });
      }
      return;
    }
    this.#chunks.push(chunk);
    if (this.#pace.received > this.#bufferBytes) this.#spill();
  };

  /** More than `bufferBytes` arrived: the body streams, the buffered chunks first. */
  #spill(): void {
    const stream = new PassThrough({ highWaterMark: this.#claimed ? this.#limits.bufferBytes : 16 * 1024 });
    this.#stream = stream;
    // This reader's timer and abort handler destroy the stream with an error, so it owns
    // that error: whoever else reads the stream (undici) may have left, or never come
    // (a 503 upstream_busy), and an 'error' nobody listens for ends the process.
    stream.on('error', () => undefined);
    for (const c of this.#chunks) stream.write(c);
    this.#chunks.length = 0;
    const stalledSince = (): number | undefined =>
      this.#ended || this.#waitingOnApp ? undefined : this.#pace.lastData;
    this.#settle({ kind: 'stream', body: stream, stalledSince });
  }

  readonly #onEnd = (): void => {
    this.#ended = true;
    this.#stop();
    if (this.#stream !== undefined) this.#stream.end();
    else this.#settle({ kind: 'buffered', body: Buffer.concat(this.#chunks, this.#pace.received) });
  };

  readonly #onAbort = (): void => {
    this.#stop();
    if (this.#stream !== undefined) this.#stream.destroy(new Error('client aborted the body'));
    this.#settle({ kind: 'aborted' });
  };
}
