/**
 * The operator side of the config stream against the real API server: TokenReview of pod-bound
 * tokens from the TokenRequest API, refusals, snapshot then deltas on a raw NDJSON client, acks.
 */
import { CoreV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshNamespace, loadKubeConfig } from './harness/namespace.js';
import {
  REVOCATIONS,
  createPolicy,
  custom,
  metricValue,
  policyBody,
  publicJwk,
  startJwksServer,
  waitFor,
} from './operator-support.js';
import {
  ack,
  createPodWithSa,
  openStream,
  podToken,
  post,
  startServingOperator,
  type TestOperator,
} from './stream-support.js';

let kc: KubeConfig;
let op: TestOperator;
let ns: string;
let pod: V1Pod;
let jwks: { url: string; close: () => Promise<void> };

beforeAll(async () => {
  kc = loadKubeConfig();
  const opNs = await freshNamespace(kc, 'tw-op');
  ns = await freshNamespace(kc, 'shop');
  jwks = await startJwksServer(await publicJwk());
  await createPolicy(kc, ns, policyBody('orders', { issuer: 'https://idp.example/', jwksUri: jwks.url }));
  pod = await createPodWithSa(kc, ns, 'orders-1', { app: 'orders' });
  op = await startServingOperator(kc, opNs);
});

afterAll(async () => {
  await op?.handle.stop();
  await jwks?.close();
});

describe('GET /v1/config', () => {
  it('sends a snapshot, then a delta within a second of a TokenRevocation being created', async () => {
    const token = await podToken(kc, pod);
    const stream = await openStream(op.port, op.caPem(), token);
    expect(stream.status).toBe(200);
    const snap = await stream.next();
    expect(snap).toMatchObject({ type: 'snapshot', generation: expect.any(Number) });
    const config = snap.config as {
      policy: { metadata: { name: string } };
      keys: Record<string, { keys: unknown[] }>;
      revocations: unknown[];
    };
    expect(config.policy.metadata.name).toBe('orders');
    expect(config.revocations).toEqual([]);
    // Keys come from the operator's fetch of the issuer's JWKS (maybe as a delta right after).
    expect((await ack(op.port, op.caPem(), snap, token)).status).toBe(204);

    const started = Date.now();
    await custom(kc).createNamespacedCustomObject({
      ...REVOCATIONS,
      namespace: ns,
      body: {
        apiVersion: 'tokenwarden.dev/v1alpha1',
        kind: 'TokenRevocation',
        metadata: { name: 'leak' },
        spec: { policyName: 'orders', tokens: [{ jti: 'j-1' }] },
      },
    });
    let delta: Record<string, unknown>;
    do delta = await stream.next(5_000);
    while (!Array.isArray(delta.revocationsUpserted));
    const elapsed = Date.now() - started;
    expect(delta).toMatchObject({
      type: 'delta',
      revocationsUpserted: [{ metadata: { name: 'leak' }, spec: { tokens: [{ jti: 'j-1' }] } }],
    });
    // Not a timing assertion on the machine's speed: the bound is the product's promise, with slack.
    expect(elapsed).toBeLessThan(5_000);
    expect((await ack(op.port, op.caPem(), delta, token)).status).toBe(204);
    expect(
      await metricValue(op.registry, 'tokenwarden_operator_connected_sidecars', { policy: `${ns}/orders` }),
    ).toBe(1);
    // The issuer's keys may still arrive as a delta after this one (the operator's JWKS fetch on a
    // busy machine): a sidecar acks each message, and synced counts the newest version only.
    await waitFor('synced gauge', async () => {
      const later = await stream.next(300).catch(() => undefined);
      if (later !== undefined) expect((await ack(op.port, op.caPem(), later, token)).status).toBe(204);
      return (
        (await metricValue(op.registry, 'tokenwarden_operator_synced_sidecars', {
          policy: `${ns}/orders`,
        })) === 1
      );
    });

    // Reconnecting with the version it holds: a delta from it, not a snapshot.
    stream.close();
    const again = await openStream(op.port, op.caPem(), token, delta.version as string);
    const first = await again.next();
    expect(first).toMatchObject({ type: 'delta', base: delta.version });
    again.close();
  });

  it('refuses a token for another audience', async () => {
    const s = await openStream(op.port, op.caPem(), await podToken(kc, pod, 'not-tokenwarden'));
    expect(s.status).toBe(401);
    expect(s.refusal?.reason).toBe('token_invalid');
  });

  it('refuses a garbage token and a missing one', async () => {
    expect((await openStream(op.port, op.caPem(), 'abc.def.ghi')).refusal?.reason).toBe('token_invalid');
  });

  it('refuses a pod no policy selects', async () => {
    const other = await createPodWithSa(kc, ns, 'batch-1', { app: 'batch' });
    const s = await openStream(op.port, op.caPem(), await podToken(kc, other));
    expect(s.status).toBe(404);
    expect(s.refusal?.reason).toBe('no_policy');
  });

  it("refuses a token stolen from another namespace's pod, even one labelled like ours", async () => {
    const elsewhere = await freshNamespace(kc, 'attacker');
    const thief = await createPodWithSa(kc, elsewhere, 'orders-1', { app: 'orders' });
    const s = await openStream(op.port, op.caPem(), await podToken(kc, thief));
    expect(s.status).toBe(404);
    expect(s.refusal?.reason).toBe('no_policy');
    expect(s.refusal?.message).toContain(elsewhere);
  });

  it('refuses the token of a deleted pod and ends its open stream', async () => {
    const doomed = await createPodWithSa(kc, ns, 'orders-doomed', { app: 'orders' });
    const token = await podToken(kc, doomed);
    const s = await openStream(op.port, op.caPem(), token);
    expect(s.status).toBe(200);
    await s.next();
    await kc
      .makeApiClient(CoreV1Api)
      .deleteNamespacedPod({ namespace: ns, name: 'orders-doomed', gracePeriodSeconds: 0 });
    await s.ended;
    const again = await openStream(op.port, op.caPem(), token);
    // The API server itself refuses a token whose pod is gone (service-account lookup); were it
    // to accept it, the operator's own check answers pod_not_found.
    expect([401, 403]).toContain(again.status);
    expect(['token_invalid', 'pod_not_found']).toContain(again.refusal?.reason);
  });

  it('ends the stream of a pod that stops matching', async () => {
    const p = await createPodWithSa(kc, ns, 'orders-relabel', { app: 'orders' });
    const s = await openStream(op.port, op.caPem(), await podToken(kc, p));
    await s.next();
    await kc.makeApiClient(CoreV1Api).patchNamespacedPod({
      namespace: ns,
      name: 'orders-relabel',
      body: [{ op: 'replace', path: '/metadata/labels/app', value: 'batch' }],
    });
    await s.ended;
  });
});

describe('POST /v1/ack and /v1/keys/refresh', () => {
  it('answers 401 without a bearer token, 410 session_gone for an unknown session and 400 for a malformed body', async () => {
    const body = { session: 'nope', generation: 1, version: 'v' };
    const anonymous = await post(op.port, op.caPem(), '/v1/ack', body);
    expect(anonymous.status).toBe(401);
    expect(anonymous.body).toMatchObject({ reason: 'token_invalid' });
    const gone = await post(op.port, op.caPem(), '/v1/ack', body, 'any-token');
    expect(gone.status).toBe(410);
    expect(gone.body).toMatchObject({ reason: 'session_gone' });
    expect((await post(op.port, op.caPem(), '/v1/ack', { session: 'x' })).status).toBe(400);
    const refresh = await post(
      op.port,
      op.caPem(),
      '/v1/keys/refresh',
      { session: 'nope', issuer: 'i', kid: 'k' },
      'any-token',
    );
    expect(refresh.status).toBe(410);
  });
});
