/**
 * What one held stream connection costs a Node.js server in RSS, without Tokenwarden: the floor
 * under the operator's "RSS per connected sidecar" (bench/propagation.ts). A child process
 * serves `GET /` by writing one NDJSON line and holding the response open, as the config stream
 * does; N clients connect one after another; the server's RSS and heap are read before and
 * after. Variants: plain HTTP, node:https (TLS 1.3, the operator's P-256 serving key type), and
 * fastify over HTTPS with the reply hijacked (what the operator runs).
 *
 * Usage: npm run bench:stream-memory -- [--connections N]
 */
import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selfSignedP256 } from './self-signed.js';
import { parseArgs } from 'node:util';

type Kind = 'http' | 'https' | 'fastify-https';
interface Usage {
  rss: number;
  heap: number;
}

async function serve(kind: Kind, dir: string): Promise<void> {
  const held: unknown[] = [];
  const tls = { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
  const open = (res: http.ServerResponse): void => {
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    res.write('{"type":"snapshot"}\n');
    held.push(res);
  };
  let port: number;
  if (kind === 'fastify-https') {
    const { default: Fastify } = await import('fastify');
    const app = Fastify({ https: tls, logger: false });
    app.get('/', (_req, reply) => {
      reply.hijack();
      open(reply.raw);
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    port = (app.server.address() as { port: number }).port;
  } else {
    const server =
      kind === 'http'
        ? http.createServer((_q, res) => open(res))
        : https.createServer(tls, (_q, res) => open(res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  }
  process.on('message', () => {
    const m = process.memoryUsage();
    process.send?.({ rss: m.rss, heap: m.heapUsed } satisfies Usage);
  });
  process.send?.(port);
}

async function measure(kind: Kind, n: number, dir: string): Promise<{ rssKb: number; heapKb: number }> {
  const child = fork(new URL(import.meta.url), ['--serve', kind, '--dir', dir], { execArgv: [] });
  try {
    const next = <T>(): Promise<T> => new Promise((r) => child.once('message', (m) => r(m as T)));
    const port = await next<number>();
    const usage = (): Promise<Usage> => {
      const p = next<Usage>();
      child.send('usage');
      return p;
    };
    await new Promise((r) => setTimeout(r, 1_000));
    const idle = await usage();
    const get = kind === 'http' ? http.get : https.get;
    const clients: http.ClientRequest[] = [];
    for (let i = 0; i < n; i++)
      await new Promise<void>((ok, fail) => {
        const req = get(
          { host: '127.0.0.1', port, path: '/', agent: false, rejectUnauthorized: false },
          (res) => res.once('data', () => ok()),
        );
        req.on('error', fail);
        clients.push(req);
      });
    await new Promise((r) => setTimeout(r, 2_000));
    const held = await usage();
    for (const c of clients) c.destroy();
    return {
      rssKb: Math.round((held.rss - idle.rss) / 1024 / n),
      heapKb: Math.round((held.heap - idle.heap) / 1024 / n),
    };
  } finally {
    child.kill();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      connections: { type: 'string', default: '1000' },
      serve: { type: 'string' },
      dir: { type: 'string' },
    },
  });
  if (values.serve !== undefined) return serve(values.serve as Kind, values.dir ?? '');
  const n = Number(values.connections);
  const dir = mkdtempSync(join(tmpdir(), 'tw-stream-memory-'));
  try {
    selfSignedP256(dir);
    const rows: string[] = [];
    for (const kind of ['http', 'https', 'fastify-https'] as const) {
      const r = await measure(kind, n, dir);
      rows.push(`| ${kind} | ${n} | ${r.rssKb} | ${r.heapKb} |`);
    }
    console.log(
      `| server | held connections | RSS KB per connection | JS heap KB per connection |\n|---|---:|---:|---:|\n${rows.join('\n')}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
