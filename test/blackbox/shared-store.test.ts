/**
 * The shared reuse store, black-box: real `tokenwarden sidecar` processes (three, as three
 * replicas of one app) counting `maxUses` in a real redis-server — standalone with a password, over TLS,
 * Sentinel, and a 3-master Cluster. A token replayed across the replicas reaches the app exactly
 * once; with the store down a reuse-limited request gets 503 `reuse_store_unavailable` (or, with
 * `whenUnavailable: CountPerPod`, is counted per pod), visible in /metrics and /status; the
 * password never appears in a log or in /status.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/net.js';
import { send } from './support/http.js';
import { recordToken } from './support/ledger.js';
import { metric } from './support/metrics.js';
import { policyDoc } from './support/policy.js';
import { startCluster, startRedis, startSentinel, type RedisProcess } from './support/redis.js';
import { startSidecar, stopAllSidecars, waitReady, type Sidecar } from './support/sidecar.js';
import { waitFor } from '../support/wait.js';
import { useWorld } from './support/world.js';

const PASSWORD = 'reuse-store-password-5f3a9c1e7b2d';
const world = useWorld();
const servers: RedisProcess[] = [];

beforeAll(() => {
  recordToken(PASSWORD); // the ledger's leak check looks for it in every log
});

afterEach(async () => {
  await stopAllSidecars();
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

function sharedPolicy(sharedStore: Record<string, unknown>): string {
  // A generous timeout: the machine running the tests is shared and busy (default 50 ms).
  const store = { timeoutMilliseconds: 2000, ...sharedStore };
  return policyDoc(world.issuer, { maxUses: 1, spec: { reuse: { maxUses: 1, sharedStore: store } } });
}

async function replicas(policyYaml: string, env: Record<string, string> = {}, n = 3): Promise<Sidecar[]> {
  const out: Sidecar[] = [];
  for (let i = 0; i < n; i++) {
    out.push(await startSidecar({ name: `shared-${i}`, upstream: world.app.url, policyYaml, env }));
  }
  for (const s of out) {
    await waitReady(s, 15_000);
    await waitFor(
      'store connected',
      async () => (await status(s)).reuseStore.shared?.status === 'ready',
      15_000,
    );
  }
  return out;
}

interface Status {
  reuseStore: { kind: string; unavailable: number; shared?: { status: string; mode: string } };
}

async function status(s: Sidecar): Promise<Status> {
  return (await (await fetch(`${s.adminUrl}/status`)).json()) as Status;
}

/** Sends `token` once to each sidecar in turn, `rounds` times, all at once; how many reached the app. */
async function replay(sidecars: Sidecar[], token: string, path: string, total: number): Promise<number[]> {
  const statuses = await Promise.all(
    Array.from({ length: total }, (_, i) =>
      send((sidecars[i % sidecars.length] as Sidecar).proxyUrl, path, { token }),
    ),
  );
  return statuses.map((r) => r.status);
}

async function expectOnce(sidecars: Sidecar[], label: string): Promise<void> {
  const token = await world.issuer.token();
  const path = `/orders/${label}`;
  const answers = await replay(sidecars, token, path, 30);
  expect(
    answers.filter((s) => s === 200),
    String(answers),
  ).toHaveLength(1);
  expect(answers.filter((s) => s === 401)).toHaveLength(29);
  expect(world.app.receivedFor(path)).toHaveLength(1);
  // Another token is counted on its own.
  const other = await world.issuer.token();
  expect((await send((sidecars[2] as Sidecar).proxyUrl, `${path}-b`, { token: other })).status).toBe(200);
  expect((await send((sidecars[0] as Sidecar).proxyUrl, `${path}-b`, { token: other })).status).toBe(401);
}

/** A CA and a server certificate for 127.0.0.1 (openssl), and a second CA that signed nothing. */
function tlsMaterial(): { dir: string; ca: string; otherCa: string } {
  const dir = mkdtempSync(join(tmpdir(), 'tw-redis-tls-'));
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  for (const name of ['ca', 'other-ca']) {
    run(
      'req',
      '-x509',
      ...ec,
      '-days',
      '1',
      '-subj',
      `/CN=${name}`,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.crt`,
    );
  }
  run('req', ...ec, '-subj', '/CN=redis', '-keyout', 'server.key', '-out', 'server.csr');
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  run(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '1',
    '-extfile',
    'san.ext',
    '-out',
    'server.crt',
  );
  return {
    dir,
    ca: readFileSync(join(dir, 'ca.crt'), 'utf8'),
    otherCa: readFileSync(join(dir, 'other-ca.crt'), 'utf8'),
  };
}

describe('shared reuse store', () => {
  it('standalone with a password: a token replayed across three sidecars reaches the app once', async () => {
    const redis = await startRedis({ password: PASSWORD });
    servers.push(redis);
    const sidecars = await replicas(sharedPolicy({ mode: 'Standalone', addresses: [redis.address] }), {
      TOKENWARDEN_REUSE_STORE_PASSWORD: PASSWORD,
    });
    await expectOnce(sidecars, 'standalone');
    // One key per token, hashed, in a hash tag, expiring.
    const keys = redis.cli('--scan', '--pattern', 'tokenwarden:reuse:*').split('\n');
    expect(keys).toHaveLength(2);
    for (const k of keys) {
      expect(k).toMatch(/^tokenwarden:reuse:\{[0-9a-f]{64}\}$/);
      expect(Number(redis.cli('PTTL', k))).toBeGreaterThan(0);
    }
    const st = JSON.stringify(await status(sidecars[0] as Sidecar));
    expect(st).not.toContain(PASSWORD);
    for (const s of sidecars) expect(s.logs()).not.toContain(PASSWORD);
  });

  it('a wrong password: 503 reuse_store_unavailable, never forwarded', async () => {
    const redis = await startRedis({ password: PASSWORD });
    servers.push(redis);
    const [s] = await replicasNoWait(sharedPolicy({ mode: 'Standalone', addresses: [redis.address] }), {
      TOKENWARDEN_REUSE_STORE_PASSWORD: 'not-the-password-0123456789',
    });
    const r = await send(s.proxyUrl, '/orders/wrong-password', { token: await world.issuer.token() });
    expect(r.status).toBe(503);
    expect(world.app.receivedFor('/orders/wrong-password')).toHaveLength(0);
  });

  it('TLS: counted once over a verified connection; a server the CA did not sign gets 503, never a pass', async () => {
    const tls = tlsMaterial();
    try {
      const tlsPort = await freePort();
      const redis = await startRedis({
        password: PASSWORD,
        config: [
          `tls-port ${tlsPort}`,
          `tls-cert-file ${join(tls.dir, 'server.crt')}`,
          `tls-key-file ${join(tls.dir, 'server.key')}`,
          `tls-ca-cert-file ${join(tls.dir, 'ca.crt')}`,
          'tls-auth-clients no',
        ],
      });
      servers.push(redis);
      const policy = sharedPolicy({ mode: 'Standalone', addresses: [`127.0.0.1:${tlsPort}`], tls: {} });
      const sidecars = await replicas(policy, {
        TOKENWARDEN_REUSE_STORE_PASSWORD: PASSWORD,
        TOKENWARDEN_REUSE_STORE_CA: tls.ca,
      });
      await expectOnce(sidecars, 'tls');
      await stopAllSidecars();
      const [s] = await replicasNoWait(policy, {
        TOKENWARDEN_REUSE_STORE_PASSWORD: PASSWORD,
        TOKENWARDEN_REUSE_STORE_CA: tls.otherCa,
      });
      const r = await send(s.proxyUrl, '/orders/tls-wrong-ca', { token: await world.issuer.token() });
      expect(r.status).toBe(503);
      expect(world.app.receivedFor('/orders/tls-wrong-ca')).toHaveLength(0);
    } finally {
      rmSync(tls.dir, { recursive: true, force: true });
    }
  });

  it('Sentinel: counted in the master the sentinel names', async () => {
    const master = await startRedis();
    const sentinel = await startSentinel(master);
    servers.push(sentinel, master);
    const sidecars = await replicas(
      sharedPolicy({ mode: 'Sentinel', addresses: [sentinel.address], sentinelMasterName: 'mymaster' }),
    );
    await expectOnce(sidecars, 'sentinel');
    expect(master.cli('--scan', '--pattern', 'tokenwarden:reuse:*').split('\n')).toHaveLength(2);
  });

  it('Cluster of three masters: counted once across the replicas', async () => {
    const nodes = await startCluster();
    servers.push(...nodes);
    const sidecars = await replicas(
      sharedPolicy({ mode: 'Cluster', addresses: nodes.map((n) => n.address) }),
    );
    await expectOnce(sidecars, 'cluster');
  });

  it('store down: 503 reuse_store_unavailable (fail closed), in /metrics and /status; back up: counted again', async () => {
    const redis = await startRedis();
    servers.push(redis);
    const [s] = await replicas(sharedPolicy({ mode: 'Standalone', addresses: [redis.address] }), {}, 1);
    const sidecar = s as Sidecar;
    await redis.stop();
    const token = await world.issuer.token();
    const r = await send(sidecar.proxyUrl, '/orders/down', { token });
    expect(r.status).toBe(503);
    expect(r.json().error).toBe('temporarily_unavailable');
    expect(world.app.receivedFor('/orders/down')).toHaveLength(0);
    expect(
      await metric(sidecar.adminUrl, 'tokenwarden_requests_total', {
        decision: 'deny',
        reason: 'reuse_store_unavailable',
      }),
    ).toBe(1);
    expect(
      await metric(sidecar.adminUrl, 'tokenwarden_reuse_store_unavailable_total', { action: 'refused' }),
    ).toBe(1);
    const st = await status(sidecar);
    expect(st.reuseStore.kind).toBe('shared');
    expect(st.reuseStore.unavailable).toBe(1);
    expect(st.reuseStore.shared?.status).not.toBe('ready');
    // Requests under no reuse limit never ask the store: a token without jti is not counted.
    const again = await startRedis({ port: redis.port });
    servers.push(again);
    await waitFor(
      'reconnected',
      async () => (await status(sidecar)).reuseStore.shared?.status === 'ready',
      15_000,
    );
    expect((await send(sidecar.proxyUrl, '/orders/down', { token })).status).toBe(200);
    expect((await send(sidecar.proxyUrl, '/orders/down', { token })).status).toBe(401);
  });

  it('store down with whenUnavailable: CountPerPod: counted in each sidecar meanwhile', async () => {
    const redis = await startRedis();
    servers.push(redis);
    const sidecars = await replicas(
      sharedPolicy({ mode: 'Standalone', addresses: [redis.address], whenUnavailable: 'CountPerPod' }),
      {},
      2,
    );
    await redis.stop();
    const token = await world.issuer.token();
    const [a, b] = sidecars as [Sidecar, Sidecar];
    expect((await send(a.proxyUrl, '/orders/per-pod', { token })).status).toBe(200);
    expect((await send(a.proxyUrl, '/orders/per-pod', { token })).status).toBe(401);
    // Per pod: the other replica has its own count (the price of CountPerPod).
    expect((await send(b.proxyUrl, '/orders/per-pod', { token })).status).toBe(200);
    expect(world.app.receivedFor('/orders/per-pod')).toHaveLength(2);
    expect(
      await metric(a.adminUrl, 'tokenwarden_reuse_store_unavailable_total', { action: 'counted_per_pod' }),
    ).toBe(2);
  });
});

async function replicasNoWait(policyYaml: string, env: Record<string, string>): Promise<[Sidecar]> {
  const s = await startSidecar({ name: 'shared-nowait', upstream: world.app.url, policyYaml, env });
  await waitReady(s, 15_000);
  return [s];
}
