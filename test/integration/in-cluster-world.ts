/**
 * The world of the end-to-end in-cluster tests (in-cluster.test.ts): namespaces, a TokenPolicy
 * with an inline JWKS, six pods with pod-bound tokens, a recording upstream, and starters for the
 * REAL operator and sidecar processes (dist/cmd/tokenwarden.js).
 */
import { CoreV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { inject } from 'vitest';
import { freshNamespace, loadKubeConfig } from './harness/namespace.js';
import {
  REVOCATIONS,
  createPolicy,
  createRevocation as createRevocationObject,
  custom,
  policyBody,
  revocationBody,
  sleep,
  suffix,
  waitFor,
  type Obj,
} from './operator-support.js';
import { createPodWithSa, openStream, podToken } from './stream-support.js';
import { alive, recordingApp, spawnCli, statusOf, stopAll, type Proc } from './in-cluster-support.js';
import { freePort } from '../support/net.js';

export const ISSUER = 'https://issuer.e2e.test/';
export const AUDIENCE = 'orders-api';

export let kc: KubeConfig;
export let ns: string;
let opNs: string;
export let work: string;
let signer: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
export let app: Awaited<ReturnType<typeof recordingApp>>;
const pods: V1Pod[] = [];
/** Pod-bound token files; index i is sidecar i's identity (0–5 in the policy's namespace). */
export const podTokenFiles: string[] = [];
const leaseName = `tw-e2e-${suffix()}`;
/** The --serve port of the single operator (kept across restarts: the sidecars dial it). */
export let servePort: number;
let caFile: string;
let caPem: string;
/** The serving CA and metrics port of the operator started last. */
export const lastOperator = { caPem: '', metricsPort: 0 };
export const closers: (() => Promise<void>)[] = [];

export interface Sidecar {
  proc: Proc;
  url: string;
  admin: string;
  stateDir: string;
}

export function userToken(jti: string, sub = 'alice'): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ sub, jti })
    .setProtectedHeader({ alg: 'ES256', kid: 'e2e-1' })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt(now)
    .setExpirationTime(now + 3600)
    .sign(signer);
}

/** The real operator; `port` is its --serve port (kept across restarts: the sidecars dial it). */
export async function startOperatorProc(name: string, port: number): Promise<Proc> {
  const p = spawnCli(
    name,
    [
      'operator',
      '--kubeconfig',
      inject('kubeconfigPath'),
      '--namespace',
      opNs,
      '--lease-name',
      leaseName,
      '--lease-duration',
      '3',
      '--serve',
      `127.0.0.1:${port}`,
      '--serving-ip',
      '127.0.0.1',
      '--metrics-listen',
      `127.0.0.1:${(lastOperator.metricsPort = await freePort())}`,
      '--log-level',
      'info',
    ],
    { POD_NAME: name, POD_NAMESPACE: opNs },
  );
  const core = kc.makeApiClient(CoreV1Api);
  try {
    caPem = await waitFor(
      'the tokenwarden-serving Secret',
      async () => {
        if (!alive(p)) throw new Error('operator exited');
        const s = await core.readNamespacedSecret({ name: 'tokenwarden-serving', namespace: opNs });
        const ca = s.data?.['ca.crt'];
        return ca === undefined ? undefined : Buffer.from(ca, 'base64').toString('utf8');
      },
      60_000,
    );
    writeFileSync(caFile, caPem);
    lastOperator.caPem = caPem;
    // Serving streams at all (caches synced, certificate loaded).
    const token = readFileSync(podTokenFiles[0] as string, 'utf8');
    await waitFor(
      `${name} serving streams`,
      async () => {
        if (!alive(p)) throw new Error('operator exited');
        const s = await openStream(port, caPem, token);
        s.close();
        return s.status === 200;
      },
      60_000,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}\n--- ${name} output ---\n${p.output()}`);
  }
  return p;
}

export async function startSidecar(
  i: number,
  opts: { controlPlane?: string; stateDir?: string; waitReady?: boolean } = {},
): Promise<Sidecar> {
  const stateDir = opts.stateDir ?? mkdtempSync(join(work, `state-${i}-`));
  const [port, admin] = [await freePort(), await freePort()];
  const proc = spawnCli(`sidecar-${i}`, [
    'sidecar',
    '--control-plane',
    opts.controlPlane ?? `https://127.0.0.1:${servePort}`,
    '--control-plane-ca',
    caFile,
    '--token-file',
    podTokenFiles[i] as string,
    '--state-dir',
    stateDir,
    '--upstream',
    app.url,
    '--listen',
    `127.0.0.1:${port}`,
    '--admin-listen',
    `127.0.0.1:${admin}`,
    '--log-level',
    'info',
  ]);
  const s: Sidecar = { proc, url: `http://127.0.0.1:${port}`, admin: `http://127.0.0.1:${admin}`, stateDir };
  try {
    if (opts.waitReady ?? true) {
      await waitFor(`sidecar-${i} ready`, async () => {
        if (!alive(proc)) throw new Error('sidecar exited');
        return (await statusOf(`${s.admin}/readyz`)) === 200;
      });
    } else {
      await waitFor(`sidecar-${i} listening`, async () => {
        if (!alive(proc)) throw new Error('sidecar exited');
        return (await statusOf(`${s.url}/healthz-probe`)) !== 0;
      });
    }
  } catch (err) {
    throw new Error(`${(err as Error).message}\n--- sidecar-${i} output ---\n${proc.output()}`);
  }
  return s;
}

export async function createRevocation(name: string, jti: string): Promise<void> {
  await createRevocationObject(kc, ns, revocationBody(name, { reason: 'e2e', tokens: [{ jti }] }));
}

export async function getRevocation(name: string): Promise<Obj> {
  return (await custom(kc).getNamespacedCustomObject({ ...REVOCATIONS, namespace: ns, name })) as Obj;
}

/** Polls every sidecar every 20 ms until each answers `want`; returns the ms each took from `t0`. */
export async function untilEvery(
  list: Sidecar[],
  path: string,
  token: string | undefined,
  want: number,
  t0: number,
  timeoutMs = 30_000,
): Promise<number[]> {
  return Promise.all(
    list.map(async (s) => {
      let last = 0;
      while (Date.now() - t0 < timeoutMs) {
        last = await statusOf(`${s.url}${path}`, token);
        if (last === want) return Date.now() - t0;
        await sleep(20);
      }
      throw new Error(`${s.proc.name} still answers ${last} (want ${want}) on ${path}\n${s.proc.output()}`);
    }),
  );
}

/** The sidecar's admin /status document. */
export async function adminStatus(s: Sidecar): Promise<Obj> {
  const res = await fetch(`${s.admin}/status`, { signal: AbortSignal.timeout(5_000) });
  return (await res.json()) as Obj;
}

export async function setupWorld(): Promise<void> {
  kc = loadKubeConfig();
  ns = await freshNamespace(kc, 'e2e');
  opNs = await freshNamespace(kc, 'e2e-op');
  work = mkdtempSync(join(tmpdir(), 'tw-e2e-'));
  caFile = join(work, 'ca.crt');
  app = await recordingApp();
  closers.push(() => app.close());

  const { privateKey, publicKey } = await generateKeyPair('ES256');
  signer = privateKey;
  const jwk = { ...(await exportJWK(publicKey)), kid: 'e2e-1', alg: 'ES256', use: 'sig' };
  await createPolicy(
    kc,
    ns,
    policyBody('orders', {
      issuer: ISSUER,
      audiences: [AUDIENCE],
      jwks: { keys: [jwk] },
      algorithms: ['ES256'],
    }),
  );
  for (let i = 0; i < 6; i++) {
    const pod = await createPodWithSa(kc, ns, `orders-${i}`, { app: 'orders' });
    pods.push(pod);
    const file = join(work, `pod-token-${i}`);
    writeFileSync(file, await podToken(kc, pod), { mode: 0o600 });
    podTokenFiles.push(file);
  }
  servePort = await freePort();
}

export async function teardownWorld(): Promise<void> {
  await stopAll();
  for (const c of closers) await c().catch(() => undefined);
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
}
