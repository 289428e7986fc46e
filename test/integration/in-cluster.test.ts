/**
 * End to end, in cluster: the REAL operator process and REAL sidecar processes
 * (dist/cmd/tokenwarden.js, `npm run build` first) against the real kube-apiserver + etcd of the
 * integration harness. Pods, a ServiceAccount and pod-bound tokens (TokenRequest API, audience
 * tokenwarden) give each sidecar its identity; a TokenPolicy with an inline JWKS selects the pods;
 * the sidecars proxy to a recording upstream on 127.0.0.1.
 *
 * The tests run in order and share the world: the operator is killed and restarted along the way.
 */
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freshNamespace } from './harness/namespace.js';
import { POLICIES, REVOCATIONS, custom, getPolicy, sleep, waitFor } from './operator-support.js';
import { createPodWithSa, podToken } from './stream-support.js';
import { freePort } from '../support/net.js';
import { alive, forwarder, statusOf, stop } from './in-cluster-support.js';
import {
  adminStatus,
  app,
  closers,
  createRevocation,
  getRevocation,
  kc,
  ns,
  podTokenFiles,
  servePort,
  startOperatorProc,
  startSidecar,
  untilEvery,
  userToken,
  work,
  type Sidecar,
} from './in-cluster-world.js';
import { useInCluster } from './in-cluster-hooks.js';

const BOUND_MS = 5_000;

async function statuses(path: string, token?: string, list = world.sidecars): Promise<number[]> {
  return Promise.all(list.map((s) => statusOf(`${s.url}${path}`, token)));
}
const world = useInCluster({ operator: 'operator-1', sidecars: 2 });

describe('in cluster: the real operator and real sidecars', () => {
  it('1. the sidecars enforce the policy from the cluster (valid token 200, no token 401)', async () => {
    const valid = await userToken('jti-valid');
    const before = app.seen.length;
    expect(await statuses('/orders', valid)).toEqual([200, 200]);
    expect(await statuses('/orders')).toEqual([401, 401]);
    expect(await statuses('/orders', `${valid.slice(0, -4)}AAAA`)).toEqual([401, 401]);
    // Only the two accepted requests reached the app.
    expect(app.seen.slice(before)).toEqual(['GET /orders', 'GET /orders']);
    for (const s of world.sidecars) {
      const st = await adminStatus(s);
      expect(st.policy).toBe('orders');
      expect(st.source).toMatchObject({ kind: 'control-plane', connected: true });
    }
  });

  it('2. a TokenRevocation turns 200 into 401 on every sidecar within the bound, is acknowledged, and its deletion restores 200', async () => {
    const token = await userToken('jti-rev-1');
    expect(await statuses('/orders', token)).toEqual([200, 200]);
    const t0 = Date.now();
    await createRevocation('rev-1', 'jti-rev-1');
    const took = await untilEvery(world.sidecars, '/orders', token, 401, t0);
    console.log(`[e2e] revocation rev-1 enforced by 2 sidecars after ${took.join(' ms, ')} ms`);
    for (const ms of took) expect(ms).toBeLessThan(BOUND_MS);

    const rev = await waitFor(
      'rev-1 acknowledged by both sidecars',
      async () => {
        const r = await getRevocation('rev-1');
        return r.status?.acknowledgedGeneration === 1 && r.status?.acknowledgedSidecars >= 2 ? r : undefined;
      },
      30_000,
    );
    console.log(
      `[e2e] rev-1 status: acknowledgedSidecars=${rev.status.acknowledgedSidecars} propagationSeconds=${rev.status.propagationSeconds} acknowledgedAt=${rev.status.acknowledgedAt}`,
    );
    expect(Date.parse(rev.status.acknowledgedAt)).toBeGreaterThanOrEqual(
      Date.parse(rev.metadata.creationTimestamp),
    );
    const policy = await waitFor(
      'policy syncedSidecars >= 2',
      async () => {
        const p = await getPolicy(kc, ns, 'orders');
        return p.status?.syncedSidecars >= 2 ? p : undefined;
      },
      30_000,
    );
    expect(policy.status.syncedSidecars).toBe(2);

    const t1 = Date.now();
    await custom(kc).deleteNamespacedCustomObject({ ...REVOCATIONS, namespace: ns, name: 'rev-1' });
    const back = await untilEvery(world.sidecars, '/orders', token, 200, t1);
    console.log(`[e2e] rev-1 deletion: 200 again after ${back.join(' ms, ')} ms`);
  });

  it('3. a policy edit (a Deny rule) propagates to every sidecar', async () => {
    const valid = await userToken('jti-valid');
    expect(await statuses('/admin/users', valid)).toEqual([200, 200]);
    const p = await getPolicy(kc, ns, 'orders');
    p.spec.rules = [{ name: 'no-admin', paths: ['/admin/*'], action: 'Deny' }];
    const t0 = Date.now();
    await custom(kc).replaceNamespacedCustomObject({ ...POLICIES, namespace: ns, name: 'orders', body: p });
    const took = await untilEvery(world.sidecars, '/admin/users', valid, 403, t0);
    console.log(`[e2e] Deny rule enforced by 2 sidecars after ${took.join(' ms, ')} ms`);
    expect(await statuses('/orders', valid)).toEqual([200, 200]);
    expect(await statuses('/orders')).toEqual([401, 401]);
  });

  it("3b. a sidecar holding another namespace's pod token (labelled like ours) gets no config: 503, refusal logged", async () => {
    const elsewhere = await freshNamespace(kc, 'e2e-thief');
    const thief = await createPodWithSa(kc, elsewhere, 'orders-0', { app: 'orders' });
    const file = join(work, 'pod-token-thief');
    writeFileSync(file, await podToken(kc, thief), { mode: 0o600 });
    podTokenFiles[6] = file;
    const s = await startSidecar(6, { waitReady: false });
    const valid = await userToken('jti-valid');
    await waitFor('the refusal logged', () =>
      Promise.resolve(s.proc.output().includes('control plane refused the stream')),
    );
    expect(s.proc.output()).toContain('no_policy');
    expect(await statuses('/orders', valid, [s])).toEqual([503]);
    expect(await statusOf(`${s.admin}/readyz`)).not.toBe(200);
    expect((await adminStatus(s)).policy).toBeNull();
    await stop(s.proc);
  });

  it('4. operator SIGKILLed: the sidecars keep enforcing; a revocation made meanwhile is enforced once a new operator runs', async () => {
    const valid = await userToken('jti-valid');
    const a = await userToken('jti-a');
    const b = await userToken('jti-b');
    await createRevocation('rev-a', 'jti-a');
    await untilEvery(world.sidecars, '/orders', a, 401, Date.now());

    await stop(world.operator, 'SIGKILL');
    await sleep(1_500); // the streams notice the dead peer
    expect(await statuses('/orders', valid)).toEqual([200, 200]);
    expect(await statuses('/orders', a)).toEqual([401, 401]);
    expect(await statuses('/orders')).toEqual([401, 401]);
    expect(await statuses('/admin/users', valid)).toEqual([403, 403]);
    // An operator outage does not pull the pods out of their Service; /status says it is disconnected.
    for (const s of world.sidecars) {
      expect(await statusOf(`${s.admin}/readyz`)).toBe(200);
      await waitFor(
        `${s.proc.name} reports disconnected`,
        async () => (await adminStatus(s)).source?.connected === false,
      );
    }

    await createRevocation('rev-b', 'jti-b');
    await sleep(1_000);
    // Nobody can tell the sidecars yet: that is what "fail static" means.
    expect(await statuses('/orders', b)).toEqual([200, 200]);

    const t0 = Date.now();
    world.operator = await startOperatorProc('operator-2', servePort);
    const took = await untilEvery(world.sidecars, '/orders', b, 401, t0, 60_000);
    console.log(
      `[e2e] rev-b (made while no operator ran) enforced ${took.join(' ms, ')} ms after the new operator started`,
    );
    expect(await statuses('/orders', a)).toEqual([401, 401]);
    expect(await statuses('/orders', valid)).toEqual([200, 200]);
    // The new operator serves with the same Secret's key: the sidecars resumed their TLS sessions.
    for (const s of world.sidecars) expect(s.proc.output()).toContain('"tlsResumed":true');
  });

  it('5. with the operator down: a restarted sidecar serves from its snapshot; no snapshot → 503; a truncated snapshot is refused', async () => {
    const valid = await userToken('jti-valid');
    const a = await userToken('jti-a');
    const b = await userToken('jti-b');
    // A delta on the live session (its proof compact: the chain came with the session's first
    // message): the snapshot file must hold it, so the sidecar put the chain back and checked it.
    const e = await userToken('jti-e');
    await createRevocation('rev-e', 'jti-e');
    await untilEvery(world.sidecars, '/orders', e, 401, Date.now(), 30_000);
    await stop(world.operator, 'SIGKILL');

    // Restart sidecar 0 on its state dir (SIGTERM: a clean stop).
    const old = world.sidecars[0] as Sidecar;
    await stop(old.proc, 'SIGTERM');
    const snapshotFile = join(old.stateDir, 'snapshot.json');
    expect(existsSync(snapshotFile)).toBe(true);
    const restarted = await startSidecar(0, { stateDir: old.stateDir, waitReady: false });
    world.sidecars[0] = restarted;
    await waitFor(
      'restarted sidecar serving its snapshot',
      async () => (await statuses('/orders', valid, [restarted]))[0] === 200,
    );
    expect(await statuses('/orders', a, [restarted])).toEqual([401]);
    expect(await statuses('/orders', b, [restarted])).toEqual([401]);
    expect(await statuses('/orders', e, [restarted])).toEqual([401]);
    expect(await statuses('/orders', undefined, [restarted])).toEqual([401]);
    expect(await statuses('/admin/users', valid, [restarted])).toEqual([403]);
    expect(restarted.proc.output()).toContain('snapshot loaded');

    // No snapshot and no operator: protected routes answer 503.
    const empty = await startSidecar(2, { waitReady: false });
    await waitFor(
      '503 without any config',
      async () => (await statuses('/orders', valid, [empty]))[0] === 503,
    );
    expect(await statuses('/orders', undefined, [empty])).toEqual([503]);

    // A truncated snapshot: refused, logged, 503.
    const text = readFileSync(snapshotFile);
    const dir = mkdtempSync(join(work, 'truncated-'));
    writeFileSync(join(dir, 'snapshot.json'), text.subarray(0, Math.floor(text.length / 2)));
    const truncated = await startSidecar(3, { stateDir: dir, waitReady: false });
    await waitFor(
      '503 with a truncated snapshot',
      async () => (await statuses('/orders', valid, [truncated]))[0] === 503,
    );
    expect(await statuses('/orders', a, [truncated])).toEqual([503]);
    expect(truncated.proc.output()).toContain('snapshot refused');
    await Promise.all([stop(empty.proc), stop(truncated.proc)]);
  });

  it('6. two operator replicas behind a forwarder: killing the connected one, the sidecars move to the other and enforcement never lapses', async () => {
    for (const s of world.sidecars) await stop(s.proc);
    const [pa, pb] = [await freePort(), await freePort()];
    const replicaA = await startOperatorProc('replica-a', pa);
    const replicaB = await startOperatorProc('replica-b', pb);
    const fwd = await forwarder([pa, pb]);
    closers.push(() => fwd.close());
    const controlPlane = `https://127.0.0.1:${fwd.port}`;
    world.sidecars = [await startSidecar(4, { controlPlane }), await startSidecar(5, { controlPlane })];
    expect(fwd.connections.get(pa)).toBeGreaterThanOrEqual(2);
    const connectedToB = fwd.connections.get(pb) ?? 0;

    const valid = await userToken('jti-valid');
    const c = await userToken('jti-c');
    await createRevocation('rev-c', 'jti-c');
    await untilEvery(world.sidecars, '/orders', c, 401, Date.now());

    // Sample the revoked token on both sidecars every ~50 ms through the failover.
    const lapses: string[] = [];
    let samples = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const got = await statuses('/orders', c);
        samples++;
        got.forEach((st, i) => {
          if (st !== 401) lapses.push(`sidecar ${i}: ${st} at sample ${samples}`);
        });
        await sleep(50);
      }
    })();

    const killedAt = Date.now();
    await stop(replicaA, 'SIGKILL');
    await waitFor(
      'new connections reaching replica B',
      () => Promise.resolve((fwd.connections.get(pb) ?? 0) - connectedToB >= 2),
      60_000,
    );
    const redialledMs = Date.now() - killedAt;
    // Connected, not just dialled: a new revocation arrives through replica B.
    const d = await userToken('jti-d');
    const t0 = Date.now();
    await createRevocation('rev-d', 'jti-d');
    const took = await untilEvery(world.sidecars, '/orders', d, 401, t0, 60_000);
    // Keep sampling at least 3 s past the kill, across the whole reconnect window.
    await sleep(Math.max(0, killedAt + 3_000 - Date.now()));
    sampling = false;
    await sampler;
    console.log(
      `[e2e] failover: 2 new connections reached replica B ${redialledMs} ms after the kill; rev-d enforced ${took.join(' ms, ')} ms after its creation (${Date.now() - killedAt} ms after the kill); ${samples} samples of the revoked token, ${lapses.length} lapses`,
    );
    expect(lapses).toEqual([]);
    expect(samples).toBeGreaterThan(20);
    expect(await statuses('/orders', valid)).toEqual([200, 200]);
    expect(alive(replicaB)).toBe(true);
  });
});
