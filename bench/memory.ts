/**
 * Memory under distinct tokens: the real sidecar (dist/) with the image's
 * NODE_OPTIONS, an inline-key policy, and N distinct valid tokens sent through it, RSS read from
 * /proc before and after, store sizes read from /metrics. Two runs:
 *
 *   tokens  50,000 distinct tokens, no reuse limit (the verified-token cache at its cap)
 *   jtis   100,000 distinct jtis under reuse.maxUses: 1 (the reuse store grows)
 *
 * Usage: npm run build && node dist/bench/memory.js [--tokens N] [--jtis N] [--reuse-store-bytes B]
 * Prints one JSON line per run. Loopback only; bounded by N.
 */
import { spawn } from 'node:child_process';
import { generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { rssBytes } from './procfs.js';

const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '../cmd/tokenwarden.js');
const ISSUER = 'https://issuer.bench/';

function token(key: KeyObject, n: number): string {
  const now = Math.floor(Date.now() / 1000);
  const header = Buffer.from(JSON.stringify({ alg: 'ES256', kid: 'k1', typ: 'at+jwt' })).toString(
    'base64url',
  );
  const payload = Buffer.from(
    JSON.stringify({
      iss: ISSUER,
      aud: 'orders-api',
      sub: `user-${n}`,
      jti: randomUUID(),
      iat: now,
      exp: now + 3600,
      scope: 'orders:read orders:write',
    }),
  ).toString('base64url');
  const signedPart = `${header}.${payload}`;
  const sig = sign('sha256', Buffer.from(signedPart), { key, dsaEncoding: 'ieee-p1363' });
  return `${signedPart}.${sig.toString('base64url')}`;
}

function metric(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

async function run(label: string, count: number, maxUses: number, extraArgs: string[]): Promise<void> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256', use: 'sig' };
  const app = createServer((_req, res) => res.end('ok'));
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  const dir = mkdtempSync(join(tmpdir(), 'tokenwarden-mem-'));
  const policyFile = join(dir, 'policy.yaml');
  const policy = {
    apiVersion: 'tokenwarden.dev/v1alpha1',
    kind: 'TokenPolicy',
    metadata: { name: 'mem' },
    spec: {
      issuers: [{ issuer: ISSUER, audiences: ['orders-api'], jwks: { keys: [jwk] }, algorithms: ['ES256'] }],
      expiry: { maxLifetimeSeconds: 7200 },
      reuse: { maxUses },
    },
  };
  writeFileSync(policyFile, JSON.stringify(policy));
  const child = spawn(
    process.execPath,
    [
      '--max-semi-space-size=4',
      CLI,
      'sidecar',
      '--policy',
      policyFile,
      '--upstream',
      `http://127.0.0.1:${(app.address() as AddressInfo).port}`,
      '--listen',
      '127.0.0.1:0',
      '--admin-listen',
      '127.0.0.1:0',
      '--log-level',
      'warn',
      ...extraArgs,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  // The ports come from the `sidecar started` line, logged at info: read them from /proc instead.
  const ports = await new Promise<{ proxy: number; admin: number }>((resolvePorts, reject) => {
    const timer = setTimeout(() => reject(new Error('sidecar did not start in 10 s')), 10_000);
    const poll = setInterval(() => {
      const found = listeningPorts(child.pid ?? 0);
      if (found.length >= 2) {
        clearInterval(poll);
        clearTimeout(timer);
        resolvePorts({ proxy: found[0] as number, admin: found[1] as number });
      }
    }, 100);
  });
  const proxy = new Pool(`http://127.0.0.1:${ports.proxy}`, { connections: 16 });
  const admin = `http://127.0.0.1:${ports.admin}`;
  const pid = child.pid ?? 0;
  // Warm up: JIT, pools, a few hundred tokens.
  for (let i = 0; i < 500; i++) await get(proxy, token(privateKey, -i));
  const before = rssBytes(pid) ?? 0;
  let next = 0;
  let refused = 0;
  let peak = before;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const n = next++;
      const status = await get(proxy, token(privateKey, n));
      if (status !== 200) refused++;
      if (n % 5000 === 0) peak = Math.max(peak, rssBytes(pid) ?? 0);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  const after = rssBytes(pid) ?? 0;
  const text = await (await fetch(`${admin}/metrics`)).text();
  console.log(
    JSON.stringify({
      run: label,
      requests: count,
      refused,
      rssBeforeMiB: +(before / 2 ** 20).toFixed(1),
      rssAfterMiB: +(after / 2 ** 20).toFixed(1),
      rssPeakMiB: +(Math.max(peak, after) / 2 ** 20).toFixed(1),
      cacheEntries: metric(text, 'tokenwarden_verified_token_cache_entries'),
      cacheBytes: metric(text, 'tokenwarden_verified_token_cache_bytes'),
      reuseEntries: metric(text, 'tokenwarden_reuse_store_entries'),
      reuseBytes: metric(text, 'tokenwarden_reuse_store_bytes'),
      reuseFull: metric(text, 'tokenwarden_reuse_store_full_total'),
      heapUsedMiB: +(
        (metric(text, 'tokenwarden_process_nodejs_heap_size_used_bytes') ?? 0) /
        2 ** 20
      ).toFixed(1),
    }),
  );
  await proxy.close();
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  await new Promise((r) => app.close(r));
}

async function get(pool: Pool, t: string): Promise<number> {
  const res = await pool.request({
    path: '/orders',
    method: 'GET',
    headers: { authorization: `Bearer ${t}` },
  });
  await res.body.dump();
  return res.statusCode;
}

/** TCP ports the process listens on, in the order of its socket inodes (proxy first, then admin). */
function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      const link = readlinkSync(`/proc/${pid}/fd/${fd}`);
      const m = /^socket:\[(\d+)\]$/.exec(link);
      if (m?.[1] !== undefined) inodes.add(m[1]);
    }
  } catch {
    return [];
  }
  const ports: { inode: number; port: number }[] = [];
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[3] !== '0A' || f[9] === undefined || !inodes.has(f[9])) continue;
    ports.push({ inode: Number(f[9]), port: parseInt((f[1] ?? '').split(':')[1] ?? '0', 16) });
  }
  return ports.sort((a, b) => a.inode - b.inode).map((p) => p.port);
}

const { values } = parseArgs({
  options: {
    tokens: { type: 'string', default: '50000' },
    jtis: { type: 'string', default: '100000' },
    'reuse-store-bytes': { type: 'string' },
  },
});
const reuseArgs = values['reuse-store-bytes'] ? ['--reuse-store-bytes', values['reuse-store-bytes']] : [];
await run('tokens', Number(values.tokens), 0, []);
await run('jtis', Number(values.jtis), 1, reuseArgs);
