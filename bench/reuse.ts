/**
 * Shared reuse store benchmark: a real redis-server, three real sidecars
 * (dist/cmd/tokenwarden.js sidecar) with `maxUses: 1` sharing it, a real upstream on 127.0.0.1.
 *
 *   replay_forwarded     one token sent by 50 connections at once, spread over the three
 *                        sidecars: how many reached the app (must be 1)
 *   distinct_forwarded   N distinct tokens (default 10,000), each sent twice: how many reached
 *                        the app (must be N)
 *   added_p50_ms/p99_ms  latency of a reuse-limited request with the shared store minus the same
 *                        sidecars counting in memory (same load, same token count)
 *
 *   event_*_ms           then bench/events.ts (a real API server, operator and three sidecars):
 *                        a back-channel logout POSTed → the last sidecar's 401
 *
 * Usage: npm run bench:reuse -- [--json FILE] [--tokens N] [--concurrency C] [--timeout-ms MS]
 *          [--skip-events]
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { stringify } from 'yaml';
import { freePort, startRedis } from '../test/blackbox/support/redis.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = join(REPO, 'dist/cmd/tokenwarden.js');
const ISSUER = 'https://issuer.bench.local/';
const AUDIENCE = 'bench-api';
const log = (m: string): void => void process.stderr.write(`[bench:reuse] ${m}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const { values: args } = parseArgs({
  options: {
    json: { type: 'string' },
    tokens: { type: 'string', default: '10000' },
    concurrency: { type: 'string', default: '32' },
    'timeout-ms': { type: 'string', default: '50' },
    'skip-events': { type: 'boolean', default: false },
  },
});
const TOKENS = Number(args.tokens);
const CONCURRENCY = Number(args.concurrency);

/** The app: counts what reaches it, by path. */
function startApp(): Promise<{ port: number; count(path: string): number; total(): number; close(): void }> {
  const seen = new Map<string, number>();
  let total = 0;
  const server = createServer((req, res) => {
    total++;
    seen.set(req.url ?? '', (seen.get(req.url ?? '') ?? 0) + 1);
    res.end('ok');
  });
  return new Promise((ok) =>
    server.listen(0, '127.0.0.1', () =>
      ok({
        port: (server.address() as AddressInfo).port,
        count: (p) => seen.get(p) ?? 0,
        total: () => total,
        close: () => server.close(),
      }),
    ),
  );
}

interface Side {
  proc: ChildProcess;
  proxy: number;
  admin: number;
}

async function startSidecars(policyFile: string, upstream: number, n: number): Promise<Side[]> {
  const out: Side[] = [];
  for (let i = 0; i < n; i++) {
    const proxy = await freePort();
    const admin = await freePort();
    const proc = spawn(
      process.execPath,
      [
        CLI,
        'sidecar',
        '--policy',
        policyFile,
        '--upstream',
        `http://127.0.0.1:${upstream}`,
        '--listen',
        `127.0.0.1:${proxy}`,
        '--admin-listen',
        `127.0.0.1:${admin}`,
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    out.push({ proc, proxy, admin });
  }
  for (const s of out) {
    for (let i = 0; ; i++) {
      try {
        const st = (await (await fetch(`http://127.0.0.1:${s.admin}/status`)).json()) as {
          policy: string | null;
          reuseStore: { shared?: { status: string } };
        };
        const shared = st.reuseStore.shared;
        if (st.policy !== null && (shared === undefined || shared.status === 'ready')) break;
      } catch {
        // not up yet
      }
      if (i > 300) throw new Error('sidecar did not become ready');
      await sleep(50);
    }
  }
  return out;
}

function stopAll(sides: Side[]): Promise<void> {
  return Promise.all(
    sides.map(
      (s) =>
        new Promise<void>((ok) =>
          s.proc.exitCode !== null ? ok() : (s.proc.once('exit', () => ok()), s.proc.kill('SIGTERM')),
        ),
    ),
  ).then(() => undefined);
}

function get(
  agent: Agent,
  port: number,
  path: string,
  token: string,
): Promise<{ status: number; ms: number }> {
  const t0 = process.hrtime.bigint();
  return new Promise((ok, fail) => {
    const req = request(
      { host: '127.0.0.1', port, path, agent, headers: { authorization: `Bearer ${token}` } },
      (res) => {
        res.resume();
        res.on('end', () =>
          ok({ status: res.statusCode ?? 0, ms: Number(process.hrtime.bigint() - t0) / 1e6 }),
        );
      },
    );
    req.on('error', fail);
    req.end();
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/** Each token twice (first, then again), C at a time, round robin over the sidecars; latencies of every request. */
const refused503 = { count: 0 };

async function distinct(sides: Side[], tokens: string[], path: string): Promise<number[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const lat: number[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= tokens.length) return;
      const token = tokens[i] as string;
      for (let k = 0; k < 2; k++) {
        const side = sides[(i + k) % sides.length] as Side;
        const r = await get(agent, side.proxy, path, token);
        if (r.status === 503) refused503.count++;
        lat.push(r.ms);
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  agent.destroy();
  return lat.sort((a, b) => a - b);
}

/** bench/events.ts in its own process; its figures, prefixed as they are (event_*, post_*). */
function eventFigures(dir: string): Promise<Record<string, number>> {
  const out = join(dir, 'events.json');
  return new Promise((ok, fail) => {
    const child = execFile(process.execPath, [join(REPO, 'dist/bench/events.js'), '--json', out], (err) =>
      err
        ? fail(new Error(`bench/events.js failed: ${err.message}`))
        : ok(JSON.parse(readFileSync(out, 'utf8')) as Record<string, number>),
    );
    child.stdout?.pipe(process.stderr);
    child.stderr?.pipe(process.stderr);
  });
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tw-bench-reuse-'));
  const redis = await startRedis();
  const app = await startApp();
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
  const sign = (): Promise<string> =>
    new SignJWT({ sub: 'bench' })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime('10m')
      .setJti(randomBytes(12).toString('hex'))
      .sign(privateKey);
  const policy = (sharedStore?: Record<string, unknown>): string =>
    stringify({
      apiVersion: 'tokenwarden.dev/v1alpha1',
      kind: 'TokenPolicy',
      metadata: { name: 'bench' },
      spec: {
        issuers: [{ issuer: ISSUER, audiences: [AUDIENCE], jwks: { keys: [jwk] }, algorithms: ['ES256'] }],
        reuse: { maxUses: 1, ...(sharedStore ? { sharedStore } : {}) },
      },
    });
  const sharedFile = join(dir, 'shared.yaml');
  const memoryFile = join(dir, 'memory.yaml');
  const timeoutMilliseconds = Number(args['timeout-ms']);
  writeFileSync(sharedFile, policy({ mode: 'Standalone', addresses: [redis.address], timeoutMilliseconds }));
  writeFileSync(memoryFile, policy());
  try {
    log(`signing ${2 * TOKENS} tokens`);
    const tokensShared = await Promise.all(Array.from({ length: TOKENS }, sign));
    const tokensMemory = await Promise.all(Array.from({ length: TOKENS }, sign));

    let sides = await startSidecars(sharedFile, app.port, 3);
    log('replay: 50 connections, one token, three sidecars');
    const replayToken = await sign();
    const agent = new Agent({ keepAlive: false });
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => get(agent, (sides[i % 3] as Side).proxy, '/replay', replayToken)),
    );
    const replayForwarded = app.count('/replay');
    log(`distinct: ${TOKENS} tokens, each twice (shared store)`);
    const latShared = await distinct(sides, tokensShared, '/distinct');
    const distinctForwarded = app.count('/distinct');
    // 503 reuse_store_unavailable: the store did not answer within timeout_ms (fail closed).
    const distinctUnavailable = refused503.count;
    await stopAll(sides);
    sides = await startSidecars(memoryFile, app.port, 3);
    log(`same load, in-memory store (per pod)`);
    const latMemory = await distinct(sides, tokensMemory, '/memory');
    await stopAll(sides);

    if (!args['skip-events']) log('identity-provider events: POST → 401 on every sidecar');
    const events = args['skip-events'] ? {} : await eventFigures(dir);
    const result = {
      replay_forwarded: replayForwarded,
      distinct_tokens: TOKENS,
      distinct_forwarded: distinctForwarded,
      distinct_503: distinctUnavailable,
      shared_p50_ms: percentile(latShared, 50),
      shared_p99_ms: percentile(latShared, 99),
      memory_p50_ms: percentile(latMemory, 50),
      memory_p99_ms: percentile(latMemory, 99),
      added_p50_ms: percentile(latShared, 50) - percentile(latMemory, 50),
      added_p99_ms: percentile(latShared, 99) - percentile(latMemory, 99),
      concurrency: CONCURRENCY,
      timeout_ms: timeoutMilliseconds,
      event_sidecars: events.sidecars,
      event_p50_ms: events.event_p50_ms,
      event_p99_ms: events.event_p99_ms,
      event_max_ms: events.event_max_ms,
    };
    for (const [k, v] of Object.entries(result)) {
      process.stdout.write(
        `${k.padEnd(20)} ${typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(3) : v}\n`,
      );
    }
    if (args.json !== undefined) await writeFile(args.json, `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    app.close();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
