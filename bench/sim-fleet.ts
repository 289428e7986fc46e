/**
 * bench:propagation's simulated sidecars: the wire protocol only (NDJSON parse, acks as a
 * sidecar sends them: lines on the stream's own request body, POST /v1/config, paced by
 * control-plane/ack-pacer.ts, and every 5 s when no ack left since), spread over worker threads
 * so that reading a thousand streams is not one event loop's queue: 1,000 sidecars are 1,000
 * pods, not one process, and on the bench's machine each worker thread gets a core when the
 * operator leaves one free.
 *
 * `SimFleet.start` connects N clients over W workers (client i streams from replica i mod M and
 * moves to the next one when its stream is lost) and resolves once every client holds a
 * snapshot. Each client records, per revocation name, when a message holding it arrived
 * (Date.now(): one clock for every thread).
 */
import https from 'node:https';
import type { ClientRequest } from 'node:http';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import {
  ACK_MIN_INTERVAL_MS,
  HEARTBEAT_INTERVAL_MS,
  STREAM_CONTENT_TYPE,
  PROOFS_HEADER,
  STREAM_PATH,
  encodeStreamAck,
  parseServerMessage,
} from '../src/distribution/protocol.js';
import { LineSplitter } from '../src/distribution/lines.js';
import { AckPacer } from '../src/sidecar/control-plane/ack-pacer.js';
import { ReconnectBackoff, retryAfterDelay } from '../src/sidecar/control-plane/reconnect-backoff.js';
import { pool, until } from './cluster-kit.js';

interface SimClient {
  /** Revocation name → epoch ms when a message holding it was received (its ack follows, paced). */
  readonly acked: Map<string, number>;
  snapshotAt: number | undefined;
  reconnects: number;
  close(): void;
}

export function simClient(
  bases: readonly URL[],
  first: number,
  caPem: string,
  token: string,
  onError: (e: string) => void,
  compactProofs = true,
): SimClient {
  let replica = first;
  const acked = new Map<string, number>();
  const state: SimClient = { acked, snapshotAt: undefined, reconnects: 0, close: () => undefined };
  let session: string | undefined;
  let generation = 0;
  let version: string | undefined;
  let closed = false;
  let req: ClientRequest | undefined;
  let tls: Buffer | undefined;
  // As a real sidecar acks (control-plane/client.ts): a line on the stream's own request body.
  const ack = (): void => {
    if (session === undefined || version === undefined || req === undefined || req.destroyed) return;
    if (!req.writableNeedDrain) req.write(encodeStreamAck({ generation, version }));
  };
  // Paced as a real sidecar paces them: a burst's acks folded into one per ACK_MIN_INTERVAL_MS.
  const acks = new AckPacer({ minIntervalMs: ACK_MIN_INTERVAL_MS, now: Date.now, send: ack });
  const timer = setInterval(() => acks.keepAlive(HEARTBEAT_INTERVAL_MS), HEARTBEAT_INTERVAL_MS);
  // Like a real sidecar: a lost stream is reopened (after a short jittered pause) with ?version=.
  const backoff = new ReconnectBackoff();
  let retryAfterMs: number | undefined;
  const reconnect = (why: string): void => {
    session = undefined;
    acks.reset();
    if (closed) return;
    onError(why);
    state.reconnects++;
    replica++;
    const delay = backoff.next(retryAfterMs);
    retryAfterMs = undefined;
    setTimeout(connect, delay);
  };
  const connect = (): void => {
    if (closed) return;
    const url = new URL(STREAM_PATH, bases[replica % bases.length]);
    if (version !== undefined) url.searchParams.set('version', version);
    let ended = false;
    const end = (why: string): void => {
      if (ended) return;
      ended = true;
      stream.destroy();
      reconnect(why);
    };
    const stream = https.request(url, {
      method: 'POST',
      ca: caPem,
      agent: false,
      ...(tls === undefined ? {} : { session: tls }),
      headers: {
        authorization: `Bearer ${token}`,
        accept: STREAM_CONTENT_TYPE,
        'content-type': STREAM_CONTENT_TYPE,
        'transfer-encoding': 'chunked',
        // As a real sidecar asks (control-plane/client.ts), unless the bench is told otherwise.
        ...(compactProofs ? { [PROOFS_HEADER]: 'compact' } : {}),
      },
    });
    req = stream;
    // As a real sidecar does (control-plane/client.ts): the next connect resumes this TLS session.
    stream.on('socket', (socket) => socket.on('session', (ticket: Buffer) => (tls = ticket)));
    stream.on('response', (res) => {
      if (res.statusCode !== 200) {
        const ra = res.headers['retry-after'];
        retryAfterMs = retryAfterDelay(typeof ra === 'string' ? ra : undefined);
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => end(`stream refused ${res.statusCode}: ${body}`));
        return;
      }
      const lines = new LineSplitter(256 * 1024 * 1024);
      res.on('data', (chunk: Buffer) => {
        const pushed = lines.push(chunk);
        if (!pushed.ok) return end(pushed.error);
        for (const line of pushed.lines) {
          const m = parseServerMessage(line);
          if (!m.ok) return end(m.error);
          const msg = m.value;
          if (msg.type === 'heartbeat') continue;
          session = msg.session;
          generation = msg.generation;
          version = msg.version;
          const now = Date.now();
          if (msg.type === 'snapshot') {
            state.snapshotAt ??= now;
            for (const r of msg.config.revocations)
              if (!acked.has(r.metadata.name)) acked.set(r.metadata.name, now);
          } else {
            for (const r of msg.revocationsUpserted ?? [])
              if (!acked.has(r.metadata.name)) acked.set(r.metadata.name, now);
          }
          acks.request();
        }
      });
      res.on('close', () => end('stream closed'));
    });
    stream.on('error', (e) => end(`stream: ${e.message}`));
    // Headers out at once; the body stays open for the acks.
    stream.flushHeaders();
  };
  connect();
  state.close = () => {
    closed = true;
    clearInterval(timer);
    acks.reset();
    req?.destroy();
  };
  return state;
}

// ---- the fleet: W worker threads, each holding a slice of the clients ----------------------

interface Slice {
  readonly bases: string[];
  readonly caPem: string;
  readonly tokens: string[];
  /** Global index of this slice's first client (the replica it starts on). */
  readonly offset: number;
  readonly compactProofs: boolean;
}

type Ask =
  | { readonly op: 'holding'; readonly count: number }
  | { readonly op: 'times'; readonly names: string[] }
  | { readonly op: 'stats' }
  | { readonly op: 'close' };

type Answer =
  | { readonly type: 'ready' }
  | { readonly type: 'failed'; readonly error: string }
  | { readonly type: 'holding'; readonly all: boolean }
  | { readonly type: 'times'; readonly times: (number | null)[][] }
  | { readonly type: 'stats'; readonly reconnects: number; readonly errors: string[] }
  | { readonly type: 'closed' };

export interface FleetOptions {
  readonly bases: readonly URL[];
  readonly caPem: string;
  readonly tokens: readonly string[];
  readonly workers: number;
  /** Ask for compact proofs as a real sidecar does (default); false: every proof in full. */
  readonly compactProofs?: boolean;
}

export class SimFleet {
  private constructor(private readonly workers: Worker[]) {}

  /** Connects every client; resolves once each holds a snapshot. */
  static async start(o: FleetOptions): Promise<SimFleet> {
    const w = Math.max(1, Math.min(o.workers, o.tokens.length));
    const per = Math.ceil(o.tokens.length / w);
    const workers: Worker[] = [];
    const ready: Promise<void>[] = [];
    for (let i = 0; i < w; i++) {
      const slice: Slice = {
        bases: o.bases.map((b) => b.href),
        caPem: o.caPem,
        tokens: o.tokens.slice(i * per, (i + 1) * per),
        offset: i * per,
        compactProofs: o.compactProofs ?? true,
      };
      const worker = new Worker(new URL(import.meta.url), { workerData: slice });
      workers.push(worker);
      ready.push(
        new Promise((ok, fail) => {
          worker.once('message', (m: Answer) =>
            m.type === 'ready' ? ok() : fail(new Error(m.type === 'failed' ? m.error : m.type)),
          );
          worker.once('error', fail);
        }),
      );
    }
    const fleet = new SimFleet(workers);
    try {
      await Promise.all(ready);
    } catch (e) {
      await fleet.close();
      throw e;
    }
    return fleet;
  }

  /** Does every client hold at least `count` revocations? */
  async holding(count: number): Promise<boolean> {
    const all = await this.ask<{ type: 'holding'; all: boolean }>({ op: 'holding', count });
    return all.every((a) => a.all);
  }

  /** Per name, when each client received it (undefined: not yet), clients in order. */
  async times(names: string[]): Promise<(number | undefined)[][]> {
    const parts = await this.ask<{ type: 'times'; times: (number | null)[][] }>({ op: 'times', names });
    return names.map((_, i) => parts.flatMap((p) => (p.times[i] ?? []).map((t) => t ?? undefined)));
  }

  async stats(): Promise<{ reconnects: number; errors: string[] }> {
    const parts = await this.ask<{ type: 'stats'; reconnects: number; errors: string[] }>({ op: 'stats' });
    return {
      reconnects: parts.reduce((n, p) => n + p.reconnects, 0),
      errors: parts.flatMap((p) => p.errors).slice(0, 20),
    };
  }

  async close(): Promise<void> {
    await this.ask({ op: 'close' }).catch(() => undefined);
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private ask<T extends Answer>(q: Ask): Promise<T[]> {
    return Promise.all(
      this.workers.map(
        (w) =>
          new Promise<T>((ok, fail) => {
            // One question at a time per worker; both listeners go once it is answered.
            const answered = (m: T): void => {
              w.off('error', failed);
              ok(m);
            };
            const failed = (e: Error): void => {
              w.off('message', answered);
              fail(e);
            };
            w.once('message', answered);
            w.once('error', failed);
            w.postMessage(q);
          }),
      ),
    );
  }
}

async function runSlice(slice: Slice): Promise<void> {
  const port = parentPort;
  if (port === null) return;
  const bases = slice.bases.map((b) => new URL(b));
  const errors: string[] = [];
  let clients: SimClient[] = [];
  try {
    clients = await pool(slice.tokens, 50, async (token, i) => {
      const c = simClient(
        bases,
        slice.offset + i,
        slice.caPem,
        token,
        (e) => {
          if (errors.length < 20) errors.push(e);
        },
        slice.compactProofs,
      );
      await until('a snapshot', () => (c.snapshotAt !== undefined ? true : undefined), 60_000);
      return c;
    });
  } catch (e) {
    port.postMessage({
      type: 'failed',
      error: `${(e as Error).message}; ${errors.join('; ')}`,
    } satisfies Answer);
    return;
  }
  port.postMessage({ type: 'ready' } satisfies Answer);
  port.on('message', (q: Ask) => {
    const reply = (a: Answer): void => port.postMessage(a);
    switch (q.op) {
      case 'holding':
        return reply({ type: 'holding', all: clients.every((c) => c.acked.size >= q.count) });
      case 'times':
        return reply({
          type: 'times',
          times: q.names.map((name) => clients.map((c) => c.acked.get(name) ?? null)),
        });
      case 'stats':
        return reply({ type: 'stats', reconnects: clients.reduce((n, c) => n + c.reconnects, 0), errors });
      case 'close':
        for (const c of clients) c.close();
        return reply({ type: 'closed' });
    }
  });
}

if (!isMainThread) await runSlice(workerData as Slice);
