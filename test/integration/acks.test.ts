/**
 * Acknowledgements cannot be forged (ADR 0012): the REAL operator process and a REAL sidecar
 * (dist/cmd/tokenwarden.js, `npm run build` first) against the real kube-apiserver + etcd of
 * the integration harness, with pod-bound tokens from the TokenRequest API.
 *
 * A second "sidecar" is a raw stream of pod orders-1 that reads what it is sent and never
 * applies it: an attacker tries to make the operator believe it enforces a revocation. Every
 * forgery (the session id alone, as /status used to show it; another pod's token; a wrong
 * hash; a version never sent; a generation never sent) is refused and counts for nothing: the
 * revocation stays unacknowledged and the policy's syncedSidecars counts only the real
 * sidecar, until the stream's own pod acks the exact version it was sent.
 *
 * Acks on the stream (POST /v1/config, ack lines on its request body): the real sidecar acks
 * that way and status counts it; a line naming a version the session was never sent counts for
 * nothing (unsent_version); a line that is no ack ends that stream (bad_ack).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { getPolicy, waitFor, sleep } from './operator-support.js';
import { openStream, post, type StreamClient } from './stream-support.js';
import { statusOf } from './in-cluster-support.js';
import {
  adminStatus,
  createRevocation,
  getRevocation,
  kc,
  lastOperator,
  ns,
  podTokenFiles,
  servePort,
  untilEvery,
  userToken,
} from './in-cluster-world.js';
import { useInCluster } from './in-cluster-hooks.js';

const token = (i: number): string => readFileSync(podTokenFiles[i] as string, 'utf8').trim();

type Msg = Record<string, unknown>;

const ackAs = (body: Msg, bearer?: string) => post(servePort, world.caPem, '/v1/ack', body, bearer);
const pairOf = (m: Msg): Msg => ({ session: m.session, generation: m.generation, version: m.version });

const world = useInCluster({ operator: 'operator-acks', sidecars: 1 });

/** tokenwarden_operator_stream_errors_total{reason} of the running operator. */
async function streamErrors(reason: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${lastOperator.metricsPort}/metrics`)).text();
  const m = new RegExp(`^tokenwarden_operator_stream_errors_total\\{reason="${reason}"\\} (\\d+)`, 'm').exec(
    text,
  );
  return Number(m?.[1] ?? 0);
}

const synced = async (): Promise<number | undefined> =>
  (await getPolicy(kc, ns, 'orders')).status?.syncedSidecars as number | undefined;
const ackLine = (m: Msg, version = m.version): string =>
  `{"type":"ack","generation":${String(m.generation)},"version":"${String(version)}"}\n`;

/** The session ids the operator logged for pod orders-`i` ("sidecar connected"). */
function sessionsOf(i: number): string[] {
  const out: string[] = [];
  for (const line of world.operator.output().split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const r = JSON.parse(line) as Msg;
      if (r.msg === 'sidecar connected' && r.pod === `${ns}/orders-${i}`) out.push(String(r.session));
    } catch {
      // a line still being written
    }
  }
  return out;
}

/** The revocation once its status says every matching sidecar acknowledged it. */
const acknowledged = (name: string) =>
  waitFor(
    `${name} acknowledged`,
    async () => {
      const r = await getRevocation(name);
      return r.status?.acknowledgedAt !== undefined ? r : undefined;
    },
    30_000,
  );

describe('acknowledgements', () => {
  it("the sidecar's /status shows no credential (no session id)", async () => {
    await waitFor('the sidecar session in the operator log', () => Promise.resolve(sessionsOf(0).length > 0));
    const page = JSON.stringify(await adminStatus(world.sidecar));
    for (const id of sessionsOf(0)) expect(page).not.toContain(id);
    expect(page).not.toMatch(/"session"/);
    // The session id alone (what /status used to show) acks nothing.
    const forged = await ackAs({ session: sessionsOf(0).at(-1), generation: 1, version: 'x' });
    expect(forged).toMatchObject({ status: 401, body: { reason: 'token_invalid' } });
  });

  it('forged acks are refused and not counted; only the exact version, acked by its own pod, counts', async () => {
    const victim: StreamClient = await openStream(servePort, world.caPem, token(1));
    expect(victim.status).toBe(200);
    const snapshot = await victim.next();
    expect(snapshot.type).toBe('snapshot');
    expect(snapshot.proof).toMatchObject({ signature: expect.any(String), chain: expect.any(Array) });
    // Its own pod acking what it was sent is the control: accepted.
    expect((await ackAs(pairOf(snapshot), token(1))).status).toBe(204);
    await waitFor(
      'syncedSidecars = 2',
      async () => (await getPolicy(kc, ns, 'orders')).status?.syncedSidecars === 2,
      30_000,
    );
    // Keeps the session alive the honest way (its last applied version), never the new one.
    const alive = setInterval(() => void ackAs(pairOf(snapshot), token(1)), 2_000);
    try {
      const user = await userToken('jti-forge');
      const t0 = Date.now();
      await createRevocation('rev-forge', 'jti-forge');
      await untilEvery([world.sidecar], '/orders', user, 401, t0);
      let delta: Msg;
      do delta = await victim.next(10_000);
      while (!Array.isArray(delta.revocationsUpserted));
      const exact = pairOf(delta);
      const flipped = String(delta.version).replace(/^./, (c) => (c === 'A' ? 'B' : 'A'));

      const forgeries: { name: string; body: Msg; bearer?: string; status: number; reason: string }[] = [
        { name: 'the session id alone', body: exact, status: 401, reason: 'token_invalid' },
        { name: 'a garbage token', body: exact, bearer: 'not-a-token', status: 401, reason: 'token_invalid' },
        {
          name: "another pod's valid token",
          body: exact,
          bearer: token(2),
          status: 403,
          reason: 'wrong_pod',
        },
        {
          name: 'its own token, the right generation, a wrong hash',
          body: { ...exact, version: flipped },
          bearer: token(1),
          status: 409,
          reason: 'unsent_version',
        },
        {
          name: 'its own token, the new generation with the old version',
          body: { ...exact, version: snapshot.version },
          bearer: token(1),
          status: 409,
          reason: 'unsent_version',
        },
        {
          name: 'its own token, a version never sent',
          body: { ...exact, version: 'AAAAAAAAAAAAAAAAAAAAAA' },
          bearer: token(1),
          status: 409,
          reason: 'unsent_version',
        },
        {
          name: 'its own token, a generation never sent',
          body: { ...exact, generation: Number(exact.generation) + 7 },
          bearer: token(1),
          status: 409,
          reason: 'unsent_version',
        },
      ];
      for (const f of forgeries) {
        const res = await ackAs(f.body, f.bearer);
        expect({ name: f.name, status: res.status, body: res.body }).toMatchObject({
          name: f.name,
          status: f.status,
          body: { reason: f.reason },
        });
      }
      const refresh = await post(
        servePort,
        world.caPem,
        '/v1/keys/refresh',
        { session: exact.session, issuer: 'i', kid: 'k' },
        token(2),
      );
      expect(refresh).toMatchObject({ status: 403, body: { reason: 'wrong_pod' } });

      // Not counted: the real sidecar is synced, the victim is not; the revocation waits for it.
      await waitFor(
        'syncedSidecars = 1',
        async () => (await getPolicy(kc, ns, 'orders')).status?.syncedSidecars === 1,
        30_000,
      );
      await sleep(3_000);
      expect((await getPolicy(kc, ns, 'orders')).status?.syncedSidecars).toBe(1);
      const pending = await getRevocation('rev-forge');
      expect(pending.status?.acknowledgedAt).toBeUndefined();
      expect(pending.status?.acknowledgedSidecars ?? 0).toBe(0);

      // The stream's own pod acking exactly what it was sent: now it counts.
      expect((await ackAs(exact, token(1))).status).toBe(204);
      const acked = await acknowledged('rev-forge');
      expect(acked.status.acknowledgedSidecars).toBe(2);
      await waitFor(
        'syncedSidecars = 2 again',
        async () => (await getPolicy(kc, ns, 'orders')).status?.syncedSidecars === 2,
        30_000,
      );
    } finally {
      clearInterval(alive);
      victim.close();
    }
    expect(await statusOf(`${world.sidecar.admin}/readyz`)).toBe(200);
  });
});

describe('acknowledgements on the stream', () => {
  it('the real sidecar acks on its stream (POST /v1/config) and status counts it', async () => {
    const connected = world.sidecar.proc
      .output()
      .split('\n')
      .filter((l) => l.includes('"control plane connected"'));
    expect(connected.length).toBeGreaterThan(0);
    for (const l of connected) expect(JSON.parse(l)).toMatchObject({ acksOnStream: true });
    expect(world.sidecar.proc.output()).not.toContain('takes no acks on the stream');
    await waitFor('syncedSidecars = 1', async () => (await synced()) === 1, 30_000);
    const user = await userToken('jti-on-stream');
    const t0 = Date.now();
    await createRevocation('rev-on-stream', 'jti-on-stream');
    await untilEvery([world.sidecar], '/orders', user, 401, t0);
    const acked = await acknowledged('rev-on-stream');
    expect(acked.status.acknowledgedSidecars).toBe(1);
  });

  it('an ack line for a version the session was never sent counts for nothing (unsent_version); the exact one counts', async () => {
    const before = await streamErrors('unsent_version');
    const s: StreamClient = await openStream(servePort, world.caPem, token(3), undefined, {
      acksOnStream: true,
    });
    try {
      expect(s.status).toBe(200);
      const snapshot = await s.next();
      expect(snapshot.type).toBe('snapshot');
      s.write(ackLine(snapshot, 'AAAAAAAAAAAAAAAAAAAAAA'));
      s.write(ackLine({ ...snapshot, generation: Number(snapshot.generation) + 7 }));
      await waitFor(
        'unsent_version counted twice',
        async () => (await streamErrors('unsent_version')) === before + 2,
      );
      await sleep(2_000);
      expect(await synced()).toBe(1);
      // The same stream goes on: its pod acking exactly what it was sent counts.
      s.write(ackLine(snapshot));
      await waitFor('syncedSidecars = 2', async () => (await synced()) === 2, 30_000);
    } finally {
      s.close();
    }
    await waitFor('syncedSidecars = 1 again', async () => (await synced()) === 1, 30_000);
  });

  it.each([
    { name: 'a line that is no ack', line: '{"type":"ack","session":"x","generation":1,"version":"A"}\n' },
    { name: 'a line past 256 bytes', line: `{"type":"ack","version":"${'A'.repeat(300)}` },
  ])('$name ends that stream, counted as bad_ack', async ({ line }) => {
    const before = await streamErrors('bad_ack');
    const s = await openStream(servePort, world.caPem, token(3), undefined, { acksOnStream: true });
    try {
      expect(s.status).toBe(200);
      await s.next();
      s.write(line);
      await s.ended;
      await waitFor('bad_ack counted', async () => (await streamErrors('bad_ack')) === before + 1);
    } finally {
      s.close();
    }
    // The real sidecar's stream is untouched.
    expect(await synced()).toBe(1);
  });
});
