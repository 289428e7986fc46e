/**
 * Leader election between two real operator processes (`tokenwarden operator`): one holds the
 * Lease and writes status; kill -9 it and the other takes over within the lease duration and
 * status keeps being written; SIGTERM releases the lease and exits 0.
 */
import { CoordinationV1Api, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManagedProcess } from './harness/processes.js';
import { freshNamespace, loadKubeConfig } from './harness/namespace.js';
import { inject } from 'vitest';
import {
  CLI,
  createPolicy,
  inlineIssuer,
  policyBody,
  publicJwk,
  readyOf,
  suffix,
  waitFor,
  waitForPolicy,
  type Obj,
} from './operator-support.js';

const LEASE_SECONDS = 3;

let kc: KubeConfig;
let ns: string;
const leaseName = `tw-leader-${suffix()}`;
const procs: ManagedProcess[] = [];
const logDir = mkdtempSync(join(tmpdir(), 'tw-leader-'));

function startProcess(n: number): ManagedProcess {
  const p = new ManagedProcess({
    name: `operator-${n}`,
    bin: process.execPath,
    args: [
      CLI,
      'operator',
      `--kubeconfig=${inject('kubeconfigPath')}`,
      '--metrics-listen=127.0.0.1:0',
      '--serve=127.0.0.1:0',
      `--namespace=${ns}`,
      `--lease-namespace=${ns}`,
      `--lease-name=${leaseName}`,
      `--lease-duration=${LEASE_SECONDS}`,
      '--resync=2',
      '--log-level=info',
    ],
    logPath: join(logDir, `operator-${n}.log`),
  });
  procs.push(p);
  return p;
}

async function lease(): Promise<V1Lease> {
  return kc.makeApiClient(CoordinationV1Api).readNamespacedLease({ namespace: ns, name: leaseName });
}

/** hostname_pid → the process holding the lease. */
function holderPid(l: V1Lease): number | undefined {
  const m = /_(\d+)$/.exec(l.spec?.holderIdentity ?? '');
  return m ? Number(m[1]) : undefined;
}

/** The metrics port a process logged at start-up ("operator starting", address.port). */
async function metricsOf(p: ManagedProcess): Promise<string> {
  const port = await waitFor(`${p.name} to log its metrics port`, () => {
    const line = readFileSync(p.logPath, 'utf8')
      .split('\n')
      .find((l) => l.includes('"operator starting"'));
    return Promise.resolve(
      line === undefined ? undefined : ((JSON.parse(line) as Obj).address.port as number),
    );
  });
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}

function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

beforeAll(async () => {
  kc = loadKubeConfig();
  ns = await freshNamespace(kc, 'leader');
});

afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop(5000)));
});

describe('leader election', () => {
  it('hands over to the surviving replica within the lease duration after kill -9', async () => {
    const a = startProcess(1);
    const b = startProcess(2);
    const first = await waitFor('one replica to hold the lease', async () => {
      const pid = holderPid(await lease());
      return pid === a.pid || pid === b.pid ? pid : undefined;
    });
    const [leader, follower] = first === a.pid ? [a, b] : [b, a];

    const jwk = await publicJwk();
    await createPolicy(kc, ns, policyBody('before', inlineIssuer(jwk)));
    await waitForPolicy(kc, ns, 'before', 'Ready', (p) => readyOf(p).status === 'True');
    // Both reconcile (the follower once it has synced); only the leader writes, as their own
    // /metrics say.
    const successes = 'tokenwarden_operator_reconcile_total{kind="TokenPolicy",result="success"}';
    const followerMetrics = await waitFor('the follower to reconcile too', async () => {
      const text = await metricsOf(follower);
      return (sample(text, successes) ?? 0) > 0 ? text : undefined;
    });
    const leaderMetrics = await metricsOf(leader);
    expect(sample(leaderMetrics, 'tokenwarden_operator_leader')).toBe(1);
    expect(sample(followerMetrics, 'tokenwarden_operator_leader')).toBe(0);
    expect(
      sample(leaderMetrics, 'tokenwarden_operator_status_writes_total{kind="TokenPolicy"}'),
    ).toBeGreaterThan(0);
    // A labelled counter never incremented has no series at all.
    expect(sample(followerMetrics, 'tokenwarden_operator_status_writes_total{kind="TokenPolicy"}') ?? 0).toBe(
      0,
    );

    leader.killNow(); // kill -9: no release, the lease has to expire
    const killedAt = Date.now();
    await leader.exited;
    await createPolicy(kc, ns, policyBody('after', inlineIssuer(jwk)));
    await waitFor(
      'the follower to take the lease',
      async () => holderPid(await lease()) === follower.pid,
      15_000,
    );
    // The follower counts one lease duration from the last renewal it observed, then takes
    // over at its next retry (a seventh of the duration, plus jitter).
    const takeoverMs = Date.now() - killedAt;
    expect(takeoverMs).toBeLessThan(LEASE_SECONDS * 1000 + 3000);
    await waitForPolicy(
      kc,
      ns,
      'after',
      'Ready (written by the new leader)',
      (p) => readyOf(p).status === 'True',
      15_000,
    );
    expect(sample(await metricsOf(follower), 'tokenwarden_operator_leader')).toBe(1);
    expect((await lease()).spec?.leaseTransitions).toBeGreaterThanOrEqual(1);
  });

  it('releases the lease on SIGTERM and exits 0; a replica that starts later takes it at once', async () => {
    const current = procs.find((p) => p.running)!;
    expect(holderPid(await lease())).toBe(current.pid);
    await current.stop(10_000);
    expect(current.describeExit()).toBe('exited with code 0');
    expect((await lease()).spec?.holderIdentity ?? '').toBe('');

    const next = startProcess(3);
    const startedAt = Date.now();
    await waitFor(
      'the new replica to take the released lease',
      async () => holderPid(await lease()) === next.pid,
    );
    // A released lease is taken without waiting for it to expire (beyond start-up time).
    expect(Date.now() - startedAt).toBeLessThan(LEASE_SECONDS * 1000 + 5000);
    await createPolicy(kc, ns, policyBody('third', inlineIssuer(await publicJwk())));
    await waitForPolicy(kc, ns, 'third', 'Ready', (p) => readyOf(p).status === 'True');
  });
});
