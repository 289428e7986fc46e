/**
 * The serving Secret and HA against the real API server: two replicas racing to create the
 * Secret end with one; both serve streams with it; acks on either replica reach status through
 * the leader; cert-manager mode waits for a Secret shaped the way cert-manager writes it (no
 * cert-manager runs here: the test writes it, from the test CA) and follows its renewal.
 */
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { X509Certificate } from 'node:crypto';
import { connect } from 'node:tls';
import { pino } from 'pino';
import { afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { ManagedCertificate } from '../../src/operator/serving/secret.js';
import { issueServingCertFrom } from './harness/pki.js';
import { freshNamespace, loadKubeConfig } from './harness/namespace.js';
import {
  REVOCATIONS,
  createPolicy,
  createRevocation,
  custom,
  eventsFor,
  getPolicy,
  inlineIssuer,
  policyBody,
  publicJwk,
  revocationBody,
  sleep,
  waitFor,
  type Obj,
} from './operator-support.js';
import {
  ack,
  createPodWithSa,
  openStream,
  podToken,
  startServingOperator,
  type TestOperator,
} from './stream-support.js';

let kc: KubeConfig;
const running: TestOperator[] = [];

beforeAll(() => {
  kc = loadKubeConfig();
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((o) => o.handle.stop()));
});

async function start(ns: string, flags = {}): Promise<TestOperator> {
  const op = await startServingOperator(kc, ns, flags);
  running.push(op);
  return op;
}

function peerSerial(port: number, caPem: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, ca: caPem, servername: 'localhost' }, () => {
      const serial = s.getPeerX509Certificate()?.serialNumber ?? '';
      s.end();
      resolve(serial);
    });
    s.on('error', reject);
  });
}

describe('the serving Secret', () => {
  it('is created once when replicas race for it, and every replica uses that one', async () => {
    const ns = await freshNamespace(kc, 'tw-race');
    const log = pino({ level: 'silent' });
    const core = kc.makeApiClient(CoreV1Api);
    const want = { dnsNames: ['tokenwarden.x.svc'], ipAddresses: ['127.0.0.1'] };
    const replicas = Array.from(
      { length: 4 },
      () => new ManagedCertificate({ core, namespace: ns, want, certManager: false, log }),
    );
    const held = await Promise.all(replicas.map((r) => r.start(30_000)));
    for (const r of replicas) r.stop();
    const list = await core.listNamespacedSecret({ namespace: ns });
    expect(list.items.map((s) => s.metadata?.name)).toEqual(['tokenwarden-serving']);
    const stored = Buffer.from(list.items[0]?.data?.['tls.crt'] ?? '', 'base64').toString();
    for (const m of held) expect(m.certPem).toBe(stored);
  });

  it('is renewed in place when it no longer covers a wanted name, keeping the CA', async () => {
    const ns = await freshNamespace(kc, 'tw-renew');
    const log = pino({ level: 'silent' });
    const core = kc.makeApiClient(CoreV1Api);
    const first = new ManagedCertificate({
      core,
      namespace: ns,
      want: { dnsNames: ['a.example'], ipAddresses: [] },
      certManager: false,
      log,
    });
    const a = await first.start(30_000);
    const second = new ManagedCertificate({
      core,
      namespace: ns,
      want: { dnsNames: ['a.example', 'b.example'], ipAddresses: [] },
      certManager: false,
      log,
    });
    const b = await second.start(30_000);
    expect(b.certPem).not.toBe(a.certPem);
    expect(b.caPem).toBe(a.caPem);
    expect(new X509Certificate(b.certPem).subjectAltName).toContain('DNS:b.example');
    // The first replica follows the Secret on its next look.
    await first.sync();
    expect(first.current()?.certPem).toBe(b.certPem);
  });

  it('cert-manager mode: waits for the Secret, serves with it, and follows its renewal', async () => {
    const ns = await freshNamespace(kc, 'tw-cm');
    const core = kc.makeApiClient(CoreV1Api);
    const ca = inject('testCa');
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const secretOf = async () => {
      const c = await issueServingCertFrom(ca, ['127.0.0.1', 'localhost']);
      return { 'tls.crt': b64(c.certPem), 'tls.key': b64(c.keyPem), 'ca.crt': b64(ca.certPem) };
    };
    const starting = start(ns, { 'cert-manager': true });
    // The operator must not create it: give it a moment, then look.
    await sleep(1_500);
    await expect(
      core.readNamespacedSecret({ namespace: ns, name: 'tokenwarden-serving' }),
    ).rejects.toMatchObject({ code: 404 });
    // What cert-manager's Certificate controller writes: type kubernetes.io/tls, ca.crt filled by a CA issuer.
    await core.createNamespacedSecret({
      namespace: ns,
      body: {
        metadata: {
          name: 'tokenwarden-serving',
          annotations: { 'cert-manager.io/certificate-name': 'tokenwarden' },
        },
        type: 'kubernetes.io/tls',
        data: await secretOf(),
      },
    });
    const op = await starting;
    expect(op.caPem()).toBe(ca.certPem);
    const before = await peerSerial(op.port, ca.certPem);
    const renewed = await secretOf();
    await core.patchNamespacedSecret({
      namespace: ns,
      name: 'tokenwarden-serving',
      body: [{ op: 'replace', path: '/data', value: renewed }],
    });
    const want = new X509Certificate(Buffer.from(renewed['tls.crt'], 'base64').toString()).serialNumber;
    await waitFor(
      'the renewed certificate to be served',
      async () => (await peerSerial(op.port, ca.certPem)) === want,
    );
    expect(want).not.toBe(before);
  });
});

describe('two replicas', () => {
  it('both serve streams, and acks on either reach status through the leader', async () => {
    const opNs = await freshNamespace(kc, 'tw-ha');
    const ns = await freshNamespace(kc, 'shop-ha');
    const lease = { 'lease-name': `tw-ha-${opNs}` };
    const [r1, r2] = await Promise.all([start(opNs, lease), start(opNs, lease)]);
    expect(r1.caPem()).toBe(r2.caPem());
    await createPolicy(kc, ns, policyBody('orders', inlineIssuer(await publicJwk(), 'https://idp.example/')));
    const pods = await Promise.all(
      [1, 2].map((i) => createPodWithSa(kc, ns, `orders-${i}`, { app: 'orders' })),
    );
    const tokens = await Promise.all(pods.map((p) => podToken(kc, p)));
    const streams = await Promise.all([r1, r2].map((r, i) => openStream(r.port, r.caPem(), tokens[i]!)));
    // Each sidecar acks what it got and keeps acking (its heartbeat), as a sidecar does.
    const latest = await Promise.all(streams.map((s) => s.next()));
    const op = [r1, r2];
    const acking = setInterval(() => {
      latest.forEach((m, i) => void ack(op[i]!.port, op[i]!.caPem(), m, tokens[i]!));
    }, 300);
    try {
      expect(latest.map((m) => m.version)).toEqual([latest[0]!.version, latest[0]!.version]);
      await waitFor(
        'syncedSidecars = 2',
        async () => (await getPolicy(kc, ns, 'orders')).status?.syncedSidecars === 2,
      );

      await createRevocation(kc, ns, revocationBody('leak', { tokens: [{ jti: 'j' }] }));
      for (let i = 0; i < 2; i++) {
        let m;
        do m = await streams[i]!.next(5_000);
        while (!Array.isArray(m.revocationsUpserted));
        latest[i] = m;
      }
      const rev = await waitFor('the revocation acknowledged by both sidecars', async () => {
        const r = (await custom(kc).getNamespacedCustomObject({
          ...REVOCATIONS,
          namespace: ns,
          name: 'leak',
        })) as Obj;
        return r.status?.acknowledgedSidecars === 2 ? r : undefined;
      });
      expect(rev.status.acknowledgedGeneration).toBe(1);
      expect(rev.status.propagationSeconds).toBeGreaterThanOrEqual(0);
      expect(Date.parse(rev.status.acknowledgedAt)).toBeGreaterThan(0);
      await waitFor(
        'syncedSidecars = 2 at the new version',
        async () => (await getPolicy(kc, ns, 'orders')).status?.syncedSidecars === 2,
      );
      // One Event at most, and only if it was slow: on this machine it may or may not be.
      const slow = (await eventsFor(kc, ns, 'leak')).filter((e) => e.reason === 'SlowPropagation');
      expect(slow.length).toBe(rev.status.propagationSeconds > 1 ? 1 : 0);
    } finally {
      clearInterval(acking);
      for (const s of streams) s.close();
    }
  });

  it('a replica that stops ends its streams, and the sidecar is served by the other', async () => {
    const opNs = await freshNamespace(kc, 'tw-ha2');
    const ns = await freshNamespace(kc, 'shop-ha2');
    const lease = { 'lease-name': `tw-ha-${opNs}` };
    const [r1, r2] = await Promise.all([start(opNs, lease), start(opNs, lease)]);
    await createPolicy(kc, ns, policyBody('orders', inlineIssuer(await publicJwk(), 'https://idp.example/')));
    const pod = await createPodWithSa(kc, ns, 'orders-1', { app: 'orders' });
    const token = await podToken(kc, pod);
    const s1 = await openStream(r1.port, r1.caPem(), token);
    const snap = await s1.next();
    await r1.handle.stop();
    await s1.ended;
    const s2 = await openStream(r2.port, r2.caPem(), token, snap.version as string);
    // Same content on both replicas → same version → an empty delta, not a snapshot.
    expect(await s2.next()).toMatchObject({ type: 'delta', base: snap.version, version: snap.version });
    s2.close();
  });
});
