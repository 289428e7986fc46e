/**
 * Legitimate traffic under slow-client attacks: the real sidecar (`tokenwarden sidecar` from
 * dist/, no NODE_OPTIONS) in front of a loopback app, a fixed-rate legitimate client with a valid
 * token, and, phase by phase, N slow clients of one kind (bench/slow-attacks.ts):
 *
 *   baseline   no attack
 *   headers    N slowloris clients (request heads that never end)
 *   body       N slow-body clients (70,000 bytes, then 1 byte every 14 s, on an Allow path)
 *   no-read    N clients that request a large response and never read it
 *
 * Per phase: legitimate requests sent, answered 200, failed (other status, error or timeout),
 * p50/p99/max latency and the ratio of p50/p99 to the baseline's (bench/legit-load.ts: the
 * legitimate client is open-loop). `--warmup` is how long each attack runs before the
 * legitimate load is measured; 2 s of unmeasured legitimate load run first. Everything is on 127.0.0.0/8; all counts and
 * durations are bounded by the flags.
 *
 * Usage: npm run bench:slow-clients -- [--attackers N] [--rate R] [--duration S] [--warmup S]
 *          [--json FILE]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { Agent } from 'undici';
import { legitimate, printTable, quantile, type Phase } from './legit-load.js';
import { stringify } from 'yaml';
import { startAttack, type AttackKind } from './slow-attacks.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = join(REPO, 'dist/cmd/tokenwarden.js');
const ISSUER = 'https://issuer.bench.local/';
const AUDIENCE = 'bench-api';
const log = (m: string): void => void process.stderr.write(`[bench:slow-clients] ${m}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const { values: args } = parseArgs({
  options: {
    attackers: { type: 'string', default: '140' },
    rate: { type: 'string', default: '50' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    json: { type: 'string' },
  },
});
const bounded = (name: string, v: string | undefined, max: number): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new Error(`--${name}: an integer 1..${max}`);
  return n;
};
const ATTACKERS = bounded('attackers', args.attackers, 1000);
const RATE = bounded('rate', args.rate, 500);
const DURATION_S = bounded('duration', args.duration, 120);
const WARMUP_S = bounded('warmup', args.warmup, 60);

/** The app: `ok` for the legitimate path, 4 MiB on /public/big, reads and drops bodies. */
function startApp(): Promise<{ port: number; close(): void }> {
  const big = Buffer.alloc(4 * 1024 * 1024, 0x62);
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => (req.url?.startsWith('/public/big') ? res.end(big) : res.end('ok')));
  });
  return new Promise((ok) =>
    server.listen(0, '127.0.0.1', () =>
      ok({
        port: (server.address() as AddressInfo).port,
        close: () => (server.close(), server.closeAllConnections()),
      }),
    ),
  );
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((ok) => s.listen(0, '127.0.0.1', ok));
  const { port } = s.address() as AddressInfo;
  await new Promise((ok) => s.close(ok));
  return port;
}

/** `tokenwarden sidecar` from dist/, without NODE_OPTIONS, once it enforces the policy. */
async function startSidecar(dir: string, jwk: Record<string, unknown>, appPort: number) {
  const policyFile = join(dir, 'policy.yaml');
  writeFileSync(
    policyFile,
    stringify({
      apiVersion: 'tokenwarden.dev/v1alpha1',
      kind: 'TokenPolicy',
      metadata: { name: 'bench' },
      spec: {
        issuers: [{ issuer: ISSUER, audiences: [AUDIENCE], jwks: { keys: [jwk] }, algorithms: ['ES256'] }],
        rules: [{ name: 'public', paths: ['/public/*'], action: 'Allow' }],
      },
    }),
  );
  const [proxy, admin] = [await freePort(), await freePort()];
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const sidecar = spawn(
    process.execPath,
    [CLI, 'sidecar', '--policy', policyFile, '--upstream', `http://127.0.0.1:${appPort}`].concat([
      '--listen',
      `127.0.0.1:${proxy}`,
      '--admin-listen',
      `127.0.0.1:${admin}`,
    ]),
    { stdio: ['ignore', 'ignore', 'inherit'], env },
  );
  for (let i = 0; ; i++) {
    const st = await fetch(`http://127.0.0.1:${admin}/status`).then(
      (r) => r.json() as Promise<{ policy: string | null }>,
      () => ({ policy: null }),
    );
    if (st.policy !== null) return { sidecar, proxy };
    if (i > 300 || sidecar.exitCode !== null) {
      sidecar.kill('SIGTERM');
      throw new Error('the sidecar did not become ready');
    }
    await sleep(50);
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tw-bench-slow-'));
  const app = await startApp();
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
  const token = await new SignJWT({ sub: 'bench' })
    .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime('30m')
    .sign(privateKey);
  const { sidecar, proxy } = await startSidecar(dir, jwk, app.port);
  const agent = new Agent({ connections: 64 });
  const phases: Phase[] = [];
  try {
    const url = `http://127.0.0.1:${proxy}`;
    // Unmeasured: connections opened, the token verified and cached, the code paths warm.
    await legitimate(url, token, RATE, 2, agent);
    const kinds: [string, AttackKind | undefined, string][] = [
      ['baseline', undefined, ''],
      ['headers', 'headers', '/public/slow-head'],
      ['body', 'body', '/public/upload'],
      ['no-read', 'no-read', '/public/big'],
    ];
    for (const [phase, kind, path] of kinds) {
      log(
        `${phase}: ${kind === undefined ? 'no attack' : `${ATTACKERS} clients`}, ${RATE} req/s for ${DURATION_S} s`,
      );
      const attack = kind === undefined ? undefined : startAttack(kind, ATTACKERS, proxy, path);
      await sleep(WARMUP_S * 1000);
      const r = await legitimate(url, token, RATE, DURATION_S, agent);
      attack?.stop();
      if (sidecar.exitCode !== null)
        throw new Error(`the sidecar exited (${sidecar.exitCode}) during ${phase}`);
      phases.push({
        phase,
        sent: r.sent,
        ok: r.ok,
        failed: r.failed,
        p50Ms: quantile(r.times, 0.5),
        p99Ms: quantile(r.times, 0.99),
        maxMs: r.times.at(-1) ?? NaN,
        attackConnections: attack?.opened() ?? 0,
      });
      await sleep(1_000);
    }
    printTable(phases);
    if (args.json !== undefined)
      writeFileSync(
        args.json,
        `${JSON.stringify({ attackers: ATTACKERS, rate: RATE, durationSeconds: DURATION_S, phases }, null, 2)}\n`,
      );
  } finally {
    await agent.close();
    const exited = new Promise((ok) => (sidecar.exitCode !== null ? ok(0) : sidecar.once('exit', ok)));
    sidecar.kill('SIGTERM');
    await exited;
    app.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  log(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exit(1);
});
