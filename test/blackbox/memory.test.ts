/**
 * What the sidecar's memory is made of, checked on the real process (ADR 0008):
 *
 * - `tokenwarden sidecar` loads nothing that only the operator or the CLI needs. Every module
 *   file the process loads (ESM and CommonJS) is recorded by a preload
 *   (support/module-trace.mjs) while it serves real requests, and the list is checked.
 * - The V8 settings apply however the sidecar is started: run here as `node dist/cmd/...`
 *   with no flags and no NODE_OPTIONS, under enough load that V8 would grow its young
 *   generation to 32 MiB, the young generation stays at the --memory-budget's share (read from
 *   the sidecar's own /metrics).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request as httpRequest, Agent } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { send } from './support/http.js';
import { metric } from './support/metrics.js';
import { policyDoc } from './support/policy.js';
import { REPO_ROOT, startSidecar, stopAllSidecars, waitReady } from './support/sidecar.js';
import { useWorld } from './support/world.js';

const TRACE_PRELOAD = join(REPO_ROOT, 'test/blackbox/support/module-trace.mjs');
const MiB = 1024 * 1024;

const world = useWorld();
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tokenwarden-bb-mem-'));
});

// Runs before the world's own clean-up: the sidecars write their traces into dir.
afterAll(async () => {
  await stopAllSidecars();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Packages (or package sub-paths) `tokenwarden sidecar` must never load. */
const NEVER_IN_THE_SIDECAR = [
  // the operator's: Kubernetes client, HTTPS server, certificate generation
  '/node_modules/@kubernetes/client-node/',
  '/node_modules/fastify/',
  '/node_modules/node-forge/',
  // keys are imported with node:crypto (ADR 0004); jose only signs tokens in tests and bench
  '/node_modules/jose/',
  // undici's index (fetch, WebSocket, cache, mocks): the data path needs only its Pool
  '/node_modules/undici/index.js',
  // the shared reuse store's client: loaded only when a policy names a shared store
  '/node_modules/ioredis/',
  '/dist/src/shared-store/redis-store.js',
  // our own operator and CLI code
  '/dist/src/operator/',
  '/dist/src/cli/',
  '/dist/cmd/operator.js',
  '/dist/cmd/revoke.js',
  '/dist/cmd/check.js',
];

describe('modules the sidecar loads', () => {
  it('standalone, verifying real tokens with keys fetched from a JWKS URL: nothing of the operator or the CLI', async () => {
    const trace = join(dir, 'standalone.trace');
    const sidecar = await startSidecar({
      name: 'memory-trace',
      upstream: world.app.url,
      policyYaml: policyDoc(world.issuer),
      nodeArgs: ['--import', TRACE_PRELOAD],
      env: { TOKENWARDEN_MODULE_TRACE: trace },
    });
    await waitReady(sidecar, 10_000);
    expect((await send(sidecar.proxyUrl, '/orders/1', { token: await world.issuer.token() })).status).toBe(
      200,
    );
    expect((await send(sidecar.proxyUrl, '/orders/1', {})).status).toBe(401);
    expect((await fetch(`${sidecar.adminUrl}/metrics`)).status).toBe(200);
    await sidecar.stop();

    const loaded = readFileSync(trace, 'utf8').split('\n').filter(Boolean);
    // The trace sees both module systems (else an absence below would prove nothing):
    // prom-client is imported from ESM, tdigest only ever require()d by prom-client.
    expect(loaded.some((f) => f.includes('/node_modules/prom-client/'))).toBe(true);
    expect(loaded.some((f) => f.includes('/node_modules/tdigest/'))).toBe(true);
    expect(loaded.some((f) => f.includes('/dist/src/proxy/server.js'))).toBe(true);
    expect(loaded.some((f) => f.includes('/node_modules/undici/lib/dispatcher/pool.js'))).toBe(true);
    const forbidden = loaded.filter((f) => NEVER_IN_THE_SIDECAR.some((p) => f.includes(p)));
    expect([...new Set(forbidden)]).toEqual([]);
  });
});

describe('the shared reuse store client', () => {
  it('is loaded once a policy names a shared store (so its absence above means something)', async () => {
    const trace = join(dir, 'shared.trace');
    const sharedStore = { mode: 'Standalone', addresses: ['127.0.0.1:9'], timeoutMilliseconds: 20 };
    const sidecar = await startSidecar({
      name: 'memory-trace-shared',
      upstream: world.app.url,
      policyYaml: policyDoc(world.issuer, { spec: { reuse: { maxUses: 1, sharedStore } } }),
      nodeArgs: ['--import', TRACE_PRELOAD],
      env: { TOKENWARDEN_MODULE_TRACE: trace },
    });
    await waitReady(sidecar, 10_000);
    // Nothing listens on port 9: fail closed.
    expect((await send(sidecar.proxyUrl, '/orders/1', { token: await world.issuer.token() })).status).toBe(
      503,
    );
    await sidecar.stop();
    const loaded = readFileSync(trace, 'utf8').split('\n').filter(Boolean);
    expect(loaded.some((f) => f.includes('/node_modules/ioredis/'))).toBe(true);
  });
});

/** `n` GETs with `concurrency` keep-alive connections; bounded in count. */
async function load(url: string, token: string, n: number, concurrency: number): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const target = new URL('/orders/load', url);
  let sent = 0;
  let ok = 0;
  const one = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const req = httpRequest(target, { agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
        if (res.statusCode === 200) ok++;
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', reject);
      req.end();
    });
  const worker = async (): Promise<void> => {
    while (sent < n) {
      sent++;
      await one();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  agent.destroy();
  return ok;
}

describe('V8 settings applied by the sidecar itself', () => {
  it('under load, started without any node flag, the young generation stays within the budget share (2 MiB semi-spaces at 96Mi)', async () => {
    const sidecar = await startSidecar({
      name: 'memory-young',
      upstream: world.app.url,
      policyYaml: policyDoc(world.issuer),
      env: { NODE_OPTIONS: '' },
    });
    await waitReady(sidecar, 10_000);
    const started = sidecar.records().find((r) => r.msg === 'sidecar started') as {
      memory?: { budgetBytes: number; semiSpaceMiB: number };
    };
    expect(started.memory).toMatchObject({ budgetBytes: 96 * MiB, semiSpaceMiB: 2 });
    const token = await world.issuer.token();
    const scavengesBefore =
      (await metric(sidecar.adminUrl, 'tokenwarden_process_nodejs_gc_duration_seconds_count', {
        kind: 'minor',
      })) ?? 0;
    // 20,000 requests over 32 connections: hundreds of scavenges, enough for an uncapped V8 to
    // double its semi-space several times (it grows after each semi-space's worth of survivors).
    expect(await load(sidecar.proxyUrl, token, 20_000, 32)).toBe(20_000);
    const scavenges =
      ((await metric(sidecar.adminUrl, 'tokenwarden_process_nodejs_gc_duration_seconds_count', {
        kind: 'minor',
      })) ?? 0) - scavengesBefore;
    const newSpace = await metric(
      sidecar.adminUrl,
      'tokenwarden_process_nodejs_heap_space_size_total_bytes',
      {
        space: 'new',
      },
    );
    console.log(`[measured] ${scavenges} scavenges; young generation ${newSpace / MiB} MiB`);
    expect(scavenges).toBeGreaterThan(50);
    // One token: verified twice (a token is cached on its second sighting, src/token/cache.ts),
    // then answered from the cache: what the benchmark's hit rows rely on.
    const lookups = (result: string): Promise<number> =>
      metric(sidecar.adminUrl, 'tokenwarden_verified_token_cache_lookups_total', { result });
    expect(await lookups('miss')).toBe(2);
    expect(await lookups('hit')).toBe(19_998);
    expect(newSpace).toBeGreaterThan(0);
    expect(newSpace).toBeLessThanOrEqual(4 * MiB);
    await sidecar.stop();
  }, 120_000);
});
