/**
 * Identity-provider events benchmark: how long from a back-channel logout POSTed to the
 * operator's receiver until every sidecar refuses the session's token.
 *
 *   real kube-apiserver + etcd (test/integration/harness), the CRDs, a TokenPolicy whose issuer
 *   is a local identity provider on 127.0.0.1 (test/integration/receivers-support.ts) with a
 *   back-channel logout receiver; K pods with pod-bound tokens;
 *   one real operator process (--serve on 127.0.0.1), K real sidecars (--control-plane) in
 *   front of a tiny app.
 *
 * For each of E events: an access token with a fresh `sid` is accepted (200) by every sidecar;
 * then the logout token naming that `sid` is POSTed, and latency = (the last sidecar's first
 * 401) − (the moment the POST was sent), each sidecar polled every 5 ms.
 *
 * Usage: npm run bench:events -- [--sidecars K] [--events E] [--json FILE]
 */
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startControlPlane } from '../test/integration/harness/control-plane.js';
import { applyCrds } from '../test/integration/harness/crds.js';
import { logoutBody, postToOperator, startLocalIdp } from '../test/integration/receivers-support.js';
import {
  OPERATOR_ENV,
  OPERATOR_NS,
  REPO,
  operatorArgs,
  servingCa,
  createPods,
  percentile,
  podTokens,
  sleep,
  spawnCli,
  testBinaries,
  until,
} from './cluster-kit.js';
import { freePort } from './processes.js';

const GROUP = { group: 'tokenwarden.dev', version: 'v1alpha1' } as const;
const API = 'bench-api';
const CLIENT = 'bench-client';
const log = (m: string): void => void process.stderr.write(`[bench:events] ${m}\n`);

export interface EventsResult {
  sidecars: number;
  events: number;
  /** POST sent → the last sidecar's first 401, per event. */
  event_p50_ms: number;
  event_p99_ms: number;
  event_max_ms: number;
  /** POST sent → the receiver's answer (the TokenRevocation exists by then). */
  post_p50_ms: number;
  post_max_ms: number;
}

async function statusOf(url: string, token: string): Promise<number> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  await res.arrayBuffer();
  return res.status;
}

/** Milliseconds from `t0` until `url` answers 401 to `token` (polled every 5 ms, up to 30 s). */
async function first401(url: string, token: string, t0: number): Promise<number> {
  for (;;) {
    if ((await statusOf(url, token)) === 401) return Date.now() - t0;
    if (Date.now() - t0 > 30_000) return Infinity;
    await sleep(5);
  }
}

async function startSidecars(
  count: number,
  tokens: readonly string[],
  work: string,
  base: string,
  caPem: string,
  cleanups: (() => unknown)[],
): Promise<string[]> {
  const app = createServer((_req, res) => res.end('ok'));
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', () => r()));
  cleanups.push(() => app.close());
  const appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
  const urls: string[] = [];
  for (let i = 0; i < count; i++) {
    const tokenFile = join(work, `token-${i}`);
    writeFileSync(tokenFile, tokens[i] ?? '');
    const [port, admin] = [await freePort(), await freePort()];
    const sidecar = spawnCli(
      [
        'sidecar',
        '--control-plane',
        base,
        '--upstream',
        appUrl,
        '--token-file',
        tokenFile,
        '--state-dir',
        join(work, `state-${i}`),
        '--listen',
        `127.0.0.1:${port}`,
        '--admin-listen',
        `127.0.0.1:${admin}`,
        '--log-level',
        'warn',
      ],
      { TOKENWARDEN_CA_PEM: caPem },
    );
    cleanups.push(() => sidecar.child.kill('SIGTERM'));
    await until(
      `sidecar ${i} ready`,
      async () => ((await fetch(`http://127.0.0.1:${admin}/readyz`)).status === 200 ? true : undefined),
      60_000,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n--- sidecar output ---\n${sidecar.output()}`);
    });
    urls.push(`http://127.0.0.1:${port}/orders`);
  }
  return urls;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      sidecars: { type: 'string', default: '3' },
      events: { type: 'string', default: '20' },
      json: { type: 'string' },
    },
  });
  const K = Number(values.sidecars);
  const E = Number(values.events);
  const work = mkdtempSync(join(tmpdir(), 'tokenwarden-bench-events-'));
  const cleanups: (() => unknown)[] = [() => rmSync(work, { recursive: true, force: true })];
  try {
    const cp = await startControlPlane({ binDir: await testBinaries(), log });
    cleanups.push(() => cp.stop());
    const kc = cp.kubeConfig;
    await applyCrds(kc, join(REPO, 'crds'));
    const core = kc.makeApiClient(CoreV1Api);
    const custom = kc.makeApiClient(CustomObjectsApi);
    const ns = `bench-${randomBytes(3).toString('hex')}`;
    for (const name of [ns, OPERATOR_NS]) await core.createNamespace({ body: { metadata: { name } } });
    const idp = await startLocalIdp();
    cleanups.push(() => idp.close());
    await custom.createNamespacedCustomObject({
      ...GROUP,
      namespace: ns,
      plural: 'tokenpolicies',
      body: {
        apiVersion: 'tokenwarden.dev/v1alpha1',
        kind: 'TokenPolicy',
        metadata: { name: 'orders' },
        spec: {
          selector: { matchLabels: { app: 'bench' } },
          targetPort: 8080,
          expiry: { maxLifetimeSeconds: 3600 },
          issuers: [
            {
              issuer: idp.issuer,
              audiences: [API],
              jwksUri: idp.jwksUri,
              algorithms: ['ES256'],
              receiver: { audience: CLIENT, events: ['BackchannelLogout'] },
            },
          ],
        },
      },
    });
    const tokens = await podTokens(kc, ns, await createPods(kc, ns, K));

    const servePort = await freePort();
    const operator = spawnCli(operatorArgs(cp.kubeconfigPath, servePort, await freePort()), OPERATOR_ENV);
    cleanups.push(() => operator.child.kill('SIGKILL'));
    const caPem = await servingCa(kc, operator);
    const urls = await startSidecars(K, tokens, work, `https://127.0.0.1:${servePort}`, caPem, cleanups);
    const all200 = async (token: string): Promise<boolean> =>
      (await Promise.all(urls.map((u) => statusOf(u, token)))).every((s) => s === 200);
    const warm = await idp.accessToken({ sub: 'warm-up' }, API);
    await until('every sidecar to accept the identity provider', () => all200(warm), 60_000);

    const latencies: number[] = [];
    const posts: number[] = [];
    for (let i = 0; i < E; i++) {
      const sid = `bench-sid-${i}-${randomBytes(4).toString('hex')}`;
      const token = await idp.accessToken({ sub: `user-${i}`, sid }, API);
      await until(`event ${i}: the session's token accepted everywhere`, () => all200(token), 10_000);
      const logout = logoutBody(await idp.logoutToken({ sid }, CLIENT));
      const t0 = Date.now();
      const waits = urls.map((u) => first401(u, token, t0));
      const path = `/v1/receivers/${ns}/orders/backchannel-logout`;
      const posted = await postToOperator(
        servePort,
        caPem,
        path,
        'application/x-www-form-urlencoded',
        logout,
      );
      posts.push(Date.now() - t0);
      if (posted.status !== 200)
        throw new Error(`event ${i}: the receiver answered ${posted.status} ${posted.body}`);
      latencies.push(Math.max(...(await Promise.all(waits))));
      await sleep(200);
    }
    latencies.sort((a, b) => a - b);
    posts.sort((a, b) => a - b);
    const result: EventsResult = {
      sidecars: K,
      events: E,
      event_p50_ms: percentile(latencies, 50),
      event_p99_ms: percentile(latencies, 99),
      event_max_ms: latencies.at(-1) ?? NaN,
      post_p50_ms: percentile(posts, 50),
      post_max_ms: posts.at(-1) ?? NaN,
    };
    console.log(
      [
        '| sidecars | events | POST → last 401 p50 / p99 / max ms | POST answered p50 / max ms |',
        '|---:|---:|---|---|',
        `| ${K} | ${E} | ${result.event_p50_ms} / ${result.event_p99_ms} / ${result.event_max_ms} | ${result.post_p50_ms} / ${result.post_max_ms} |`,
      ].join('\n'),
    );
    if (values.json) await writeFile(values.json, `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
  }
}

await main().then(
  () => process.exit(0),
  (err: unknown) => {
    log(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(1);
  },
);
