/**
 * Propagation benchmark: how long from a TokenRevocation written to the API server
 * until the last sidecar acknowledged it.
 *
 *   real kube-apiserver + etcd (test/integration/harness) ─ CRDs, a TokenPolicy, N + K pods,
 *   one pod-bound token each (TokenRequest API, audience tokenwarden)
 *   one real operator process (dist/cmd/tokenwarden.js operator, --serve on 127.0.0.1)
 *   N simulated stream clients over W worker threads of this process (sim-fleet.ts: NDJSON
 *   parse, acks as a sidecar sends them)
 *   K real sidecars (dist/cmd/tokenwarden.js sidecar --control-plane) in front of a tiny app
 *
 * R revocations are created at a steady rate; for each, latency = (the moment the last simulated
 * client received a message holding it) − (the moment the create request was sent). Real sidecars are measured from
 * the same moment until a token with the revoked jti is refused (polled every 20 ms).
 *
 * Usage: npm run bench:propagation -- --sidecars N [--revocations R] [--rate PER_S]
 *          [--real-sidecars K] [--replicas M] [--sim-workers W] [--json FILE]
 *          [--operator-arg ARG]... [--outage] [--full-proofs]
 *
 * --sim-workers W (default 2, this machine's cores) spreads the simulated clients over W
 * worker threads; with 1, reading every stream is one event loop's queue and its latency is
 * counted as propagation.
 *
 * --full-proofs: the simulated clients do not ask for compact proofs (every line carries the
 * operator's certificate chain, as for a sidecar that predates them); for comparison.
 *
 * --replicas M runs M operator processes (one Deployment's replicas: their own POD_NAME, one
 * lease); simulated client i streams from replica i mod M and, when its stream is lost, tries
 * the next one as a Service would send it elsewhere. CPU is summed over the replicas; RSS per
 * sidecar is the replicas' growth over the sidecars they hold.
 *
 * --outage (outage.ts): afterwards, every replica is killed, a revocation written, the first
 * replica restarted; adds outage_p99_ms (from serving again to the clients' acks), the TokenReviews and
 * the operator's and API server's CPU over the reconnect. Clients reconnect as sidecars do
 * (control-plane/reconnect-backoff.ts, Retry-After honoured).
 */
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { STREAM_PATH, parseServerMessage } from '../src/distribution/protocol.js';
import { KeyStore } from '../src/keys/store.js';
import { StreamApplier } from '../src/sidecar/control-plane/apply.js';
import { LineSplitter } from '../src/distribution/lines.js';
import { EnforcementState } from '../src/decide/state.js';
import { startControlPlane } from '../test/integration/harness/control-plane.js';
import { applyCrds } from '../test/integration/harness/crds.js';
import { apiServerPid, outagePhase } from './outage.js';
import { cpuMicros, rssBytes } from './procfs.js';
import {
  CLI,
  OPERATOR_ENV,
  OPERATOR_NS,
  operatorArgs,
  servingCa,
  REPO,
  createPods,
  percentile,
  podTokens,
  sleep,
  spawnCli,
  testBinaries,
  until,
  type Spawned,
} from './cluster-kit.js';
import { freePort } from './processes.js';
import { SimFleet } from './sim-fleet.js';

/** The operator binary; TOKENWARDEN_OPERATOR_CLI runs another build's (e.g. a branch not merged yet). */
const OPERATOR_CLI = process.env.TOKENWARDEN_OPERATOR_CLI ?? CLI;
const ISSUER = 'https://issuer.bench.local/';
const AUDIENCE = 'bench-api';
const GROUP = { group: 'tokenwarden.dev', version: 'v1alpha1' } as const;

const log = (m: string): void => void process.stderr.write(`[bench:propagation] ${m}\n`);

/** Runs `fn` over `items` with at most `n` in flight. */

// ---- the cluster side ------------------------------------------------------------------------

// ---- main ------------------------------------------------------------------------------------

interface Replica {
  readonly args: string[];
  readonly env: Record<string, string>;
  readonly base: URL;
  readonly metricsPort: number;
  spawned: Spawned;
}

/** `f` summed over `pids` (a process gone counts 0). */
function sumOf(pids: readonly number[], f: (pid: number) => number | undefined): number {
  let sum = 0;
  for (const pid of pids) {
    try {
      sum += f(pid) ?? 0;
    } catch {
      // gone
    }
  }
  return sum;
}

/** TokenReviews summed over the replicas; null when one could not be read. */
async function sumReviews(ports: readonly number[]): Promise<number | null> {
  const each = await Promise.all(ports.map((p) => tokenReviews(p)));
  return each.some((n) => n === null) ? null : each.reduce<number>((a, n) => a + (n ?? 0), 0);
}

export interface PropagationResult {
  sidecars: number;
  replicas: number;
  revocations: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  operator_cpu_s: number;
  operator_rss_mb: number;
  snapshot: { entries: number; bytes: number; ms: number };
  real_sidecars: { count: number; p50_ms: number; p99_ms: number; max_ms: number };
  operator_rss_per_sidecar_kb: number;
  /** Operator CPU over the revocation phase divided by the deliveries acked (µs). */
  operator_cpu_per_delivery_us: number;
  /** TokenReviews the operator sent to the API server over the whole run (its metric). */
  tokenreviews: number | null;
  missed_acks: number;
  client_reconnects: number;
  outage_p99_ms?: number;
  /** What the simulated clients asked for (--full-proofs). */
  proofs: 'compact' | 'full';
  /** From the create request sent to the API server's answer, per revocation. */
  api_write_p50_ms: number;
  api_write_p99_ms: number;
}

/**
 * tokenwarden_operator_tokenreviews_total{result="reviewed"} from the operator's /metrics: 0 when
 * the family is there without that series (every token was checked against the issuer keys or
 * cached); null when the operator could not be read.
 */
async function tokenReviews(port: number): Promise<number | null> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const m = /^tokenwarden_operator_tokenreviews_total\{result="reviewed"\} (\d+)/m.exec(text);
    if (m?.[1] !== undefined) return Number(m[1]);
    return text.includes('# TYPE tokenwarden_operator_tokenreviews_total counter') ? 0 : null;
  } catch {
    return null;
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      sidecars: { type: 'string', default: '100' },
      revocations: { type: 'string', default: '100' },
      rate: { type: 'string', default: '10' },
      'real-sidecars': { type: 'string', default: '2' },
      json: { type: 'string' },
      'operator-arg': { type: 'string', multiple: true, default: [] },
      outage: { type: 'boolean', default: false },
      replicas: { type: 'string', default: '1' },
      'sim-workers': { type: 'string', default: '2' },
      'full-proofs': { type: 'boolean', default: false },
    },
  });
  const M = Number(values.replicas);
  if (!Number.isInteger(M) || M < 1) throw new Error('--replicas: must be an integer >= 1');
  const W = Number(values['sim-workers']);
  if (!Number.isInteger(W) || W < 1) throw new Error('--sim-workers: must be an integer >= 1');
  const N = Number(values.sidecars);
  const R = Number(values.revocations);
  const rate = Number(values.rate);
  const K = Number(values['real-sidecars']);
  const work = mkdtempSync(join(tmpdir(), 'tokenwarden-bench-prop-'));
  const cleanups: (() => Promise<void> | void)[] = [() => rmSync(work, { recursive: true, force: true })];
  const cleanup = async (): Promise<void> => {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
  try {
    const binDir = await testBinaries();
    const cp = await startControlPlane({ binDir, log });
    cleanups.push(() => cp.stop());
    const kc = cp.kubeConfig;
    await applyCrds(kc, join(REPO, 'crds'));
    const core = kc.makeApiClient(CoreV1Api);
    const custom = kc.makeApiClient(CustomObjectsApi);
    const ns = `bench-${randomBytes(3).toString('hex')}`;
    for (const name of [ns, OPERATOR_NS]) await core.createNamespace({ body: { metadata: { name } } });

    // The identity provider: one ES256 key, given inline (no egress needed anywhere).
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'bench-1', alg: 'ES256', use: 'sig' };
    await custom.createNamespacedCustomObject({
      ...GROUP,
      namespace: ns,
      plural: 'tokenpolicies',
      body: {
        apiVersion: 'tokenwarden.dev/v1alpha1',
        kind: 'TokenPolicy',
        metadata: { name: 'bench' },
        spec: {
          selector: { matchLabels: { app: 'bench' } },
          targetPort: 8080,
          issuers: [{ issuer: ISSUER, audiences: [AUDIENCE], jwks: { keys: [jwk] }, algorithms: ['ES256'] }],
        },
      },
    });
    let t0 = Date.now();
    const pods = await createPods(kc, ns, N + K);
    const tokens = await podTokens(kc, ns, pods);
    log(`${pods.length} pods and their tokens in ${Date.now() - t0} ms`);

    // The operator, as shipped: M replicas of one Deployment.
    const replicas: Replica[] = [];
    for (let i = 0; i < M; i++) {
      const [servePort, metricsPort] = [await freePort(), await freePort()];
      const args = [
        ...operatorArgs(cp.kubeconfigPath, servePort, metricsPort),
        ...(values['operator-arg'] ?? []),
      ];
      const env = { ...OPERATOR_ENV, POD_NAME: `${OPERATOR_ENV.POD_NAME}-${i}` };
      const r: Replica = {
        args,
        env,
        base: new URL(`https://127.0.0.1:${servePort}`),
        metricsPort,
        spawned: spawnCli(args, env, OPERATOR_CLI),
      };
      replicas.push(r);
      cleanups.push(() => void r.spawned.child.kill('SIGKILL'));
    }
    const first = replicas[0] as Replica;
    const pids = () => replicas.map((r) => r.spawned.child.pid as number);
    const caPem = await servingCa(kc, first.spawned);
    const bases = replicas.map((r) => r.base);
    const base = first.base;
    // Wait until a replica answers a stream at all (caches synced).
    const servesStreams = (at: URL) =>
      until(
        'the operator to serve streams',
        () =>
          new Promise<boolean | undefined>((ok) => {
            const req = https.request(new URL(STREAM_PATH, at), {
              ca: caPem,
              agent: false,
              headers: { authorization: `Bearer ${tokens[0]}` },
            });
            req.on('response', (res) => {
              ok(res.statusCode === 200 ? true : undefined);
              req.destroy();
            });
            req.on('error', () => ok(undefined));
            req.end();
          }),
        60_000,
      );
    for (const r of replicas) await servesStreams(r.base);
    await sleep(1_000);
    const rssIdle = sumOf(pids(), rssBytes);

    // N simulated sidecars over W worker threads (sim-fleet.ts).
    t0 = Date.now();
    const fleet = await SimFleet.start({
      bases,
      caPem,
      tokens: tokens.slice(0, N),
      workers: W,
      compactProofs: !values['full-proofs'],
    });
    cleanups.push(() => fleet.close());
    log(
      `${N} simulated sidecars (${W} worker threads) connected and holding a snapshot in ${Date.now() - t0} ms`,
    );
    await sleep(2_000);
    const rssConnected = sumOf(pids(), rssBytes);

    // K real sidecars in front of a tiny app.
    const app = createServer((_req, res) => res.end('ok'));
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => void app.close());
    const appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
    const real: { proxy: string; spawned: Spawned }[] = [];
    for (let i = 0; i < K; i++) {
      const dir = join(work, `sidecar-${i}`);
      const tokenFile = join(work, `token-${i}`);
      writeFileSync(tokenFile, tokens[N + i] ?? '');
      const [port, admin] = [await freePort(), await freePort()];
      const s = spawnCli(
        [
          'sidecar',
          '--control-plane',
          base.origin,
          '--upstream',
          appUrl,
          '--token-file',
          tokenFile,
          '--state-dir',
          dir,
          '--listen',
          `127.0.0.1:${port}`,
          '--admin-listen',
          `127.0.0.1:${admin}`,
          '--log-level',
          'warn',
        ],
        { TOKENWARDEN_CA_PEM: caPem },
      );
      cleanups.push(() => void s.child.kill('SIGTERM'));
      await until(
        `real sidecar ${i} ready`,
        async () => ((await fetch(`http://127.0.0.1:${admin}/readyz`)).status === 200 ? true : undefined),
        60_000,
      ).catch((e: Error) => {
        throw new Error(`${e.message}\n--- sidecar output ---\n${s.output()}`);
      });
      real.push({ proxy: `http://127.0.0.1:${port}`, spawned: s });
    }

    // Tokens the revocations will name, signed up front.
    const now = Math.floor(Date.now() / 1000);
    const revokedTokens = await Promise.all(
      Array.from({ length: R }, (_, i) =>
        new SignJWT({ sub: `user-${i}`, jti: `bench-jti-${i}` })
          .setProtectedHeader({ alg: 'ES256', kid: 'bench-1' })
          .setIssuer(ISSUER)
          .setAudience(AUDIENCE)
          .setIssuedAt(now)
          .setExpirationTime(now + 3600)
          .sign(privateKey),
      ),
    );

    // R revocations at a steady rate.
    const written: number[] = [];
    // How long the API server took to accept each create: a part of every latency above that
    // no Tokenwarden process spends (etcd's commit on this machine's disk, mostly).
    const apiWrite: number[] = [];
    const realLatencies: Promise<number>[] = [];
    const cpuBefore = sumOf(pids(), cpuMicros);
    const started = Date.now();
    for (let i = 0; i < R; i++) {
      const due = started + (i * 1000) / rate;
      if (due > Date.now()) await sleep(due - Date.now());
      written[i] = Date.now();
      const create = custom.createNamespacedCustomObject({
        ...GROUP,
        namespace: ns,
        plural: 'tokenrevocations',
        body: {
          apiVersion: 'tokenwarden.dev/v1alpha1',
          kind: 'TokenRevocation',
          metadata: { name: `bench-${i}` },
          spec: { reason: 'bench', tokens: [{ jti: `bench-jti-${i}` }] },
        },
      });
      for (const r of real) {
        const at = written[i] as number;
        const token = revokedTokens[i] as string;
        realLatencies.push(
          create.then(async () => {
            for (;;) {
              const res = await fetch(`${r.proxy}/`, { headers: { authorization: `Bearer ${token}` } });
              await res.arrayBuffer();
              if (res.status === 401) return Date.now() - at;
              if (Date.now() - at > 30_000) return Infinity;
              await sleep(20);
            }
          }),
        );
      }
      await create;
      apiWrite.push(Date.now() - (written[i] as number));
    }
    // Wait for every simulated client to hold every revocation (or 30 s after the last write).
    const last = Date.now();
    while (Date.now() - last < 30_000) {
      if (await fleet.holding(R)) break;
      await sleep(50);
    }
    const cpuS = (sumOf(pids(), cpuMicros) - cpuBefore) / 1e6;
    const rssEnd = sumOf(pids(), rssBytes);
    let missed = 0;
    const lastAck: number[] = [];
    const received = await fleet.times(Array.from({ length: R }, (_, i) => `bench-${i}`));
    for (let i = 0; i < R; i++) {
      let worst = 0;
      for (const at of received[i] ?? []) {
        if (at === undefined) missed++;
        else worst = Math.max(worst, at - (written[i] as number));
      }
      lastAck.push(worst);
    }
    lastAck.sort((a, b) => a - b);
    const realSorted = (await Promise.all(realLatencies)).sort((a, b) => a - b);

    // A fresh connection's snapshot: operator build + transfer, then the sidecar's apply.
    const snap = await new Promise<{ bytes: number; ms: number; entries: number }>((ok, fail) => {
      const begin = performance.now();
      const req = https.request(new URL(STREAM_PATH, base), {
        ca: caPem,
        agent: false,
        headers: { authorization: `Bearer ${tokens[0]}` },
      });
      req.on('response', (res) => {
        const lines = new LineSplitter(256 * 1024 * 1024);
        res.on('data', (chunk: Buffer) => {
          const pushed = lines.push(chunk);
          const line = pushed.ok ? pushed.lines[0] : undefined;
          if (line === undefined) return;
          req.destroy();
          const m = parseServerMessage(line);
          if (!m.ok || m.value.type !== 'snapshot') return fail(new Error('no snapshot first'));
          const keys = new KeyStore();
          const applier = new StreamApplier({ state: new EnforcementState(), keys });
          void applier.applySnapshot(m.value.version, m.value.config).then((r) => {
            keys.close();
            if (!r.ok) return fail(new Error(r.error));
            ok({
              entries: r.active.revocations.size,
              bytes: Buffer.byteLength(line) + 1,
              ms: Math.round(performance.now() - begin),
            });
          });
        });
      });
      req.on('error', fail);
      req.end();
    });

    // Before any outage: the restarted operator's count is outage_tokenreviews.
    const reviews = await sumReviews(replicas.map((r) => r.metricsPort));
    const outage = values.outage
      ? await outagePhase({
          kill: async () => {
            for (const r of replicas) {
              const exited = new Promise((ok) => r.spawned.child.once('exit', ok));
              r.spawned.child.kill('SIGKILL');
              await exited;
            }
          },
          revoke: async (name) =>
            void (await custom.createNamespacedCustomObject({
              ...GROUP,
              namespace: ns,
              plural: 'tokenrevocations',
              body: {
                apiVersion: 'tokenwarden.dev/v1alpha1',
                kind: 'TokenRevocation',
                metadata: { name },
                spec: { reason: 'bench', tokens: [{ jti: `${name}-jti` }] },
              },
            })),
          // One replica comes back; the others stay down (clients find it as through a Service).
          restart: async () => {
            first.spawned = spawnCli(first.args, first.env, OPERATOR_CLI);
            await servesStreams(first.base);
            return { pid: first.spawned.child.pid as number, servingAt: Date.now() };
          },
          ackedAt: async (name) => (await fleet.times([name]))[0] ?? [],
          tokenReviews: () => tokenReviews(first.metricsPort),
          apiServer: apiServerPid(cp.server),
          sleep,
        })
      : undefined;
    const stats = await fleet.stats();
    const delivered = N * R - missed;
    const result: PropagationResult = {
      sidecars: N,
      replicas: M,
      revocations: R,
      proofs: values['full-proofs'] ? 'full' : 'compact',
      p50_ms: percentile(lastAck, 50),
      p99_ms: percentile(lastAck, 99),
      api_write_p50_ms: percentile(
        apiWrite.sort((a, b) => a - b),
        50,
      ),
      api_write_p99_ms: percentile(apiWrite, 99),
      max_ms: lastAck.at(-1) ?? NaN,
      operator_cpu_s: Math.round(cpuS * 100) / 100,
      operator_rss_mb: Math.round((rssEnd / 1048576) * 10) / 10,
      snapshot: snap,
      real_sidecars: {
        count: K,
        p50_ms: percentile(realSorted, 50),
        p99_ms: percentile(realSorted, 99),
        max_ms: realSorted.at(-1) ?? NaN,
      },
      operator_rss_per_sidecar_kb: N > 0 ? Math.round((rssConnected - rssIdle) / 1024 / N) : 0,
      operator_cpu_per_delivery_us: delivered > 0 ? Math.round((cpuS * 1e6) / delivered) : 0,
      tokenreviews: reviews,
      missed_acks: missed,
      client_reconnects: stats.reconnects,
      ...outage,
    };
    console.log(
      [
        `| sidecars | replicas | revocations | rate/s | p50 ms | p99 ms | max ms | real sidecars p50/p99/max ms | operator CPU s | CPU/delivery µs | operator RSS MB | RSS/sidecar KB | TokenReviews | snapshot entries / bytes / ms | missed acks | client reconnects |`,
        `|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---|---:|---:|`,
        `| ${N} | ${M} | ${R} | ${rate} | ${result.p50_ms} | ${result.p99_ms} | ${result.max_ms} | ${result.real_sidecars.p50_ms} / ${result.real_sidecars.p99_ms} / ${result.real_sidecars.max_ms} (${K}) | ${result.operator_cpu_s} | ${result.operator_cpu_per_delivery_us} | ${result.operator_rss_mb} | ${result.operator_rss_per_sidecar_kb} | ${result.tokenreviews ?? 'missing'} | ${snap.entries} / ${snap.bytes} / ${snap.ms} | ${missed} | ${result.client_reconnects} |`,
      ].join('\n'),
    );
    log(
      `API server's answer to each create: p50 ${result.api_write_p50_ms} ms, p99 ${result.api_write_p99_ms} ms`,
    );
    if (outage !== undefined) log(`outage: ${JSON.stringify(outage)}`);
    if (stats.errors.length > 0)
      log(`client errors (first ${stats.errors.length}): ${stats.errors.join('; ')}`);
    if (values.json) await writeFile(values.json, `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await cleanup();
  }
}

await main().then(
  () => process.exit(0),
  (err: unknown) => {
    log(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(1);
  },
);
