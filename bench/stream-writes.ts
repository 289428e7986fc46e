/**
 * What writing one config-stream line to a thousand held HTTPS responses costs a Node.js server
 * in CPU, without Tokenwarden: the floor under the operator's "CPU per delivery"
 * (bench/propagation.ts), and the gain of framing chunks ourselves (stream-socket.ts).
 *
 * A child process (fastify over HTTPS, TLS 1.3, a P-256 key, replies hijacked: what the operator
 * runs) holds N responses open; a second child holds the N client ends and reads them. The
 * server writes one line of `--line-bytes` bytes (a per-session head plus a body shared by
 * every response) to every response, one event-loop turn per round, and reports its own CPU
 * (user + system, every thread) per line written. Two writers:
 *   node-chunked  response.cork(); write(head); write(body); uncork()   (Node frames the chunk)
 *   framed        socket.cork(); write(size + head); write(body + CRLF); uncork()
 * System time includes the loopback delivery to the reader, as it does for the operator.
 *
 * Usage: npm run bench:stream-writes -- [--connections N] [--rounds R] [--line-bytes B]
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selfSignedP256 } from './self-signed.js';
import { parseArgs } from 'node:util';

type Writer = 'node-chunked' | 'framed';
const WRITERS: readonly Writer[] = ['node-chunked', 'framed'];

interface Round {
  readonly writes: number;
  readonly cpuUs: number;
  /** The kernel's share (system time): the socket write and, on loopback, the peer's receive path. */
  readonly systemUs: number;
}

function next<T>(child: ChildProcess): Promise<T> {
  return new Promise((ok, fail) => {
    child.once('message', (m) => ok(m as T));
    child.once('exit', (code) => fail(new Error(`child exited (${code})`)));
  });
}

/** The server child: holds responses, writes on request, reports its CPU. */
async function serve(dir: string, lineBytes: number): Promise<void> {
  const { default: Fastify } = await import('fastify');
  const held: ServerResponse[] = [];
  const app = Fastify({
    https: { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) },
    logger: false,
  });
  app.get('/', (_req, reply) => {
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': 'application/x-ndjson' });
    reply.raw.flushHeaders();
    held.push(reply.raw);
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const head = '{"type":"delta","session":"AAAAAAAAAAAAAAAAAAAAAA",';
  const body = Buffer.from(`"pad":"${'x'.repeat(Math.max(0, lineBytes - head.length - 10))}"}\n`);
  const framedBody = Buffer.concat([body, Buffer.from('\r\n')]);
  const size = (head.length + body.length).toString(16);
  const writeAll = (writer: Writer): void => {
    for (const res of held) {
      if (writer === 'node-chunked') {
        res.cork();
        res.write(head);
        res.write(body);
        res.uncork();
      } else {
        const s = res.socket;
        if (s === null) continue;
        s.cork();
        s.write(`${size}\r\n${head}`);
        s.write(framedBody);
        s.uncork();
      }
    }
  };
  process.on('message', (m: { writer: Writer; rounds: number }) => {
    void (async () => {
      const before = process.cpuUsage();
      for (let r = 0; r < m.rounds; r++) {
        writeAll(m.writer);
        await new Promise((ok) => setImmediate(ok));
      }
      // Let the last writes' completions run before reading the clock.
      await new Promise((ok) => setTimeout(ok, 200));
      const used = process.cpuUsage(before);
      process.send?.({
        writes: held.length * m.rounds,
        cpuUs: used.user + used.system,
        systemUs: used.system,
      } satisfies Round);
    })();
  });
  process.send?.((app.server.address() as { port: number }).port);
}

/** The reader child: N held requests, everything read and dropped. */
async function read(port: number, n: number): Promise<void> {
  let open = 0;
  for (let i = 0; i < n; i++)
    await new Promise<void>((ok, fail) => {
      const req = https.get(
        { host: '127.0.0.1', port, path: '/', agent: false, rejectUnauthorized: false },
        (res) => {
          res.on('data', () => undefined);
          open++;
          ok();
        },
      );
      req.on('error', fail);
    });
  process.send?.(open);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      connections: { type: 'string', default: '1000' },
      rounds: { type: 'string', default: '100' },
      'line-bytes': { type: 'string', default: '2000' },
      serve: { type: 'string' },
      read: { type: 'string' },
    },
  });
  const n = Number(values.connections);
  const lineBytes = Number(values['line-bytes']);
  if (values.serve !== undefined) return serve(values.serve, lineBytes);
  if (values.read !== undefined) return read(Number(values.read), n);
  const rounds = Number(values.rounds);
  const dir = mkdtempSync(join(tmpdir(), 'tw-stream-writes-'));
  const children: ChildProcess[] = [];
  try {
    selfSignedP256(dir);
    const server = fork(new URL(import.meta.url), ['--serve', dir, '--line-bytes', String(lineBytes)], {
      execArgv: [],
    });
    children.push(server);
    const port = await next<number>(server);
    const reader = fork(new URL(import.meta.url), ['--read', String(port), '--connections', String(n)], {
      execArgv: [],
    });
    children.push(reader);
    await next<number>(reader);
    const rows: string[] = [];
    const perWrite = new Map<Writer, number>();
    // Alternating, so drift in the machine's load touches both writers alike.
    for (let rep = 0; rep < 3; rep++)
      for (const writer of WRITERS) {
        server.send({ writer, rounds });
        const r = await next<Round>(server);
        const us = r.cpuUs / r.writes;
        perWrite.set(writer, Math.min(perWrite.get(writer) ?? Infinity, us));
        const sys = r.systemUs / r.writes;
        rows.push(`| ${writer} | ${rep + 1} | ${r.writes} | ${us.toFixed(1)} | ${sys.toFixed(1)} |`);
      }
    console.log(
      `| writer | round | lines written | server CPU µs per line | of which system |\n|---|---:|---:|---:|---:|\n${rows.join('\n')}`,
    );
    const chunked = perWrite.get('node-chunked') ?? NaN;
    const framed = perWrite.get('framed') ?? NaN;
    console.log(
      `\nbest of 3, ${n} connections, ${lineBytes}-byte lines: node-chunked ${chunked.toFixed(1)} µs, framed ${framed.toFixed(1)} µs (framed / node-chunked = ${(framed / chunked).toFixed(2)})`,
    );
  } finally {
    for (const c of children) c.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
