/**
 * The chart's RBAC is exactly enough: the operator, running as a ServiceAccount bound to the
 * ClusterRole rules of charts/tokenwarden/files/clusterrole-rules.yaml (and the lease Role of
 * lease-role-rules.yaml), reconciles a policy, records Events and collects an expired
 * revocation; with `patch` on tokenpolicies/status taken away, it cannot write policy status.
 * Requests impersonate `system:serviceaccount:NS:NAME` (kubeconfig `as:`), so the API server's
 * RBAC authorizer decides every one of them.
 */
import {
  CoreV1Api,
  KubernetesObjectApi,
  RbacAuthorizationV1Api,
  type KubeConfig,
  type V1PolicyRule,
} from '@kubernetes/client-node';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { parse, parseAllDocuments } from 'yaml';
import { afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { pino } from 'pino';
import type { OperatorFlags } from '../../src/config/operator.js';
import type { OperatorHandle } from '../../src/operator/run.js';
import { loadSealKey } from '../../src/operator/webhook/seal-key.js';
import { ReplicaStore } from '../../src/operator/stream/replica-store.js';
import { REPLICAS_CONFIGMAP, makeSummary, replicaKey } from '../../src/operator/stream/summary.js';
import { REPO_ROOT } from './harness/control-plane.js';
import { createPodWithSa, openStream, podToken } from './stream-support.js';
import { logoutBody, postToOperator, startLocalIdp } from './receivers-support.js';
import { freshNamespace, loadKubeConfig } from './harness/namespace.js';
import {
  REVOCATIONS,
  createPolicy,
  custom,
  eventsFor,
  getPolicy,
  impersonating,
  metricValue,
  policyBody,
  publicJwk,
  readyOf,
  sleep,
  startOperator,
  suffix,
  waitFor,
  waitForPolicy,
  type Obj,
} from './operator-support.js';

const FILES = join(REPO_ROOT, 'charts/tokenwarden/files');
const clusterRules = parse(readFileSync(join(FILES, 'clusterrole-rules.yaml'), 'utf8')) as V1PolicyRule[];
const leaseRules = parse(readFileSync(join(FILES, 'lease-role-rules.yaml'), 'utf8')) as V1PolicyRule[];

let admin: KubeConfig;
let operator: OperatorHandle | undefined;

beforeAll(() => {
  admin = loadKubeConfig();
});

afterEach(async () => {
  await operator?.stop();
  operator = undefined;
});

/** A ServiceAccount bound to `rules` cluster-wide and to the lease rules in its namespace. */
async function serviceAccountWith(rules: V1PolicyRule[]): Promise<{ ns: string; user: string }> {
  const ns = await freshNamespace(admin, 'rbac-op');
  const name = 'tokenwarden-operator';
  const role = `tw-test-operator-${suffix()}`;
  const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
  await admin
    .makeApiClient(CoreV1Api)
    .createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name } } });
  const subjects = [{ kind: 'ServiceAccount', name, namespace: ns }];
  // What the chart creates beside the Role (templates/replica-summaries.yaml).
  await admin
    .makeApiClient(CoreV1Api)
    .createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: REPLICAS_CONFIGMAP } } });
  await rbac.createClusterRole({ body: { metadata: { name: role }, rules } });
  await rbac.createClusterRoleBinding({
    body: {
      metadata: { name: role },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
      subjects,
    },
  });
  await rbac.createNamespacedRole({
    namespace: ns,
    body: { metadata: { name: 'leader' }, rules: leaseRules },
  });
  await rbac.createNamespacedRoleBinding({
    namespace: ns,
    body: {
      metadata: { name: 'leader' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'leader' },
      subjects,
    },
  });
  return { ns, user: `system:serviceaccount:${ns}:${name}` };
}

describe('operator RBAC (charts/tokenwarden/files/clusterrole-rules.yaml)', () => {
  it('is enough to reconcile, record Events and collect expired revocations', async () => {
    const { ns: saNs, user } = await serviceAccountWith(clusterRules);
    const registry = new Registry();
    operator = await startOperator(impersonating(admin, user), saNs, {}, registry);
    await waitFor('the operator to sync its informers under RBAC', () => Promise.resolve(operator!.ready()));
    await waitFor('the operator to lead', () => Promise.resolve(operator!.isLeader()));

    const ns = await freshNamespace(admin, 'rbac-app');
    await createPolicy(
      admin,
      ns,
      policyBody('orders', { issuer: 'https://a.example/', jwks: { keys: [await publicJwk()] } }),
    );
    const expiresAt = new Date(Date.now() + 3000).toISOString().replace(/\.\d+Z$/, 'Z');
    await custom(admin).createNamespacedCustomObject({
      ...REVOCATIONS,
      namespace: ns,
      body: {
        apiVersion: 'tokenwarden.dev/v1alpha1',
        kind: 'TokenRevocation',
        metadata: { name: 'short' },
        spec: { expiresAt, tokens: [{ jti: 'x' }] },
      },
    });

    const p = await waitForPolicy(admin, ns, 'orders', 'Ready=True', (x) => readyOf(x).status === 'True');
    expect(p.status.observedGeneration).toBe(1);
    await waitFor('a Compiled Event', async () =>
      (await eventsFor(admin, ns, 'orders')).some((e) => e.reason === 'Compiled'),
    );
    await waitFor('the expired revocation to be collected', async () => {
      const list = await custom(admin).listNamespacedCustomObject({ ...REVOCATIONS, namespace: ns });
      return list.items.length === 0;
    });
    expect(
      await metricValue(registry, 'tokenwarden_operator_reconcile_total', {
        kind: 'TokenPolicy',
        result: 'error',
      }),
    ).toBe(0);

    // The config stream under the same rules: the serving Secret was created in the operator's
    // namespace, and a sidecar's pod-bound token passes the TokenReview and gets its policy.
    const secret = await admin
      .makeApiClient(CoreV1Api)
      .readNamespacedSecret({ namespace: saNs, name: 'tokenwarden-serving' });
    expect(secret.type).toBe('kubernetes.io/tls');
    const pod = await createPodWithSa(admin, ns, 'orders-1', { app: 'orders' });
    const stream = await openStream(
      operator.servingAddress.port,
      operator.ca.caPem(),
      await podToken(admin, pod),
    );
    expect(stream.status).toBe(200);
    expect(await stream.next()).toMatchObject({ type: 'snapshot' });
    stream.close();
  });

  /** An operator under the chart rules without create on tokenreviews, and a pod's stream to it. */
  async function streamWithoutTokenReviews(flags: OperatorFlags) {
    const without = clusterRules.filter((r) => !(r.resources ?? []).includes('tokenreviews'));
    expect(without.length).toBe(clusterRules.length - 1);
    const { ns: saNs, user } = await serviceAccountWith(without);
    operator = await startOperator(impersonating(admin, user), saNs, flags);
    await waitFor('the operator to sync its informers under RBAC', () => Promise.resolve(operator!.ready()));
    const ns = await freshNamespace(admin, 'rbac-stream');
    await createPolicy(
      admin,
      ns,
      policyBody('orders', { issuer: 'https://a.example/', jwks: { keys: [await publicJwk()] } }),
    );
    const pod = await createPodWithSa(admin, ns, 'orders-1', { app: 'orders' });
    return {
      pod,
      open: async () =>
        openStream(operator!.servingAddress.port, operator!.ca.caPem(), await podToken(admin, pod)),
    };
  }

  it('cannot authenticate sidecars without create on tokenreviews in tokenreview mode: 503, never a pass', async () => {
    const { open } = await streamWithoutTokenReviews({ 'stream-auth': 'tokenreview' });
    const stream = await open();
    expect(stream.status).toBe(503);
    expect(stream.refusal?.reason).toBe('not_ready');
  });

  it('authenticates sidecars with the issuer keys alone under the chart rules without tokenreviews', async () => {
    const { open } = await streamWithoutTokenReviews({});
    // The keys are fetched at start; until then a token would need the TokenReview it may not send.
    await waitFor('a stream opened with the service-account keys', async () => {
      const s = await open();
      s.close();
      return s.status === 200;
    });
  });

  it('fails to write policy status without patch on tokenpolicies/status', async () => {
    const withoutPolicyStatus = clusterRules.map((r) => ({
      ...r,
      resources: (r.resources ?? []).filter((res) => res !== 'tokenpolicies/status'),
    }));
    expect(JSON.stringify(withoutPolicyStatus)).not.toContain('tokenpolicies/status');
    const { ns: saNs, user } = await serviceAccountWith(withoutPolicyStatus);
    const registry = new Registry();
    operator = await startOperator(impersonating(admin, user), saNs, {}, registry);
    await waitFor('the operator to lead', () => Promise.resolve(operator!.isLeader()));

    const ns = await freshNamespace(admin, 'rbac-denied');
    await createPolicy(
      admin,
      ns,
      policyBody('orders', { issuer: 'https://a.example/', jwks: { keys: [await publicJwk()] } }),
    );
    await waitFor('a failed (403) policy reconcile', async () => {
      const errors = await metricValue(registry, 'tokenwarden_operator_reconcile_total', {
        kind: 'TokenPolicy',
        result: 'error',
      });
      return errors > 0;
    });
    await sleep(2000);
    const p: Obj = await getPolicy(admin, ns, 'orders');
    expect(p.status).toBeUndefined();
  });
});

const statusOf = (p: Promise<unknown>): Promise<number | undefined> =>
  p.then(
    () => 200,
    (e: unknown) => (e as { code?: number }).code,
  );

describe('replica summaries under the chart Role (get and patch on tokenwarden-replicas only)', () => {
  it('publish, merge into status and expire in the one ConfigMap; no other ConfigMap is reachable', async () => {
    const { ns: saNs, user } = await serviceAccountWith(clusterRules);
    const adminCore = admin.makeApiClient(CoreV1Api);
    await adminCore.createNamespacedConfigMap({
      namespace: saNs,
      body: { metadata: { name: 'other' }, data: { 'settings.json': '{}' } },
    });
    const saKc = impersonating(admin, user);
    operator = await startOperator(saKc, saNs);
    await waitFor('the operator to lead', () => Promise.resolve(operator!.isLeader()));
    const ns = await freshNamespace(admin, 'rbac-replicas');
    await createPolicy(
      admin,
      ns,
      policyBody('orders', { issuer: 'https://a.example/', jwks: { keys: [await publicJwk()] } }),
    );
    await waitForPolicy(admin, ns, 'orders', 'Ready=True', (x) => readyOf(x).status === 'True');

    // A second replica under the same ServiceAccount writes its key; a dead one left a stale key.
    const store = new ReplicaStore(saKc.makeApiClient(CoreV1Api), saNs);
    const policies = new Map([[`${ns}/orders`, { version: 'v', connected: 3, synced: 3 }]]);
    const write = () =>
      store.write(
        replicaKey('replica-b'),
        JSON.stringify(makeSummary('replica-b', Date.now(), policies, new Map())),
      );
    await write();
    const dead = JSON.stringify(makeSummary('replica-dead', Date.now() - 120_000, new Map(), new Map()));
    await store.write(replicaKey('replica-dead'), dead);

    const own = replicaKey(`${hostname()}_${process.pid}`);
    await waitFor('own key beside replica-b, the dead key removed', async () => {
      const keys = Object.keys(await store.readAll());
      return keys.includes(own) && keys.includes('replica-b.json') && !keys.includes('replica-dead.json');
    });
    await waitFor("status to count replica-b's three synced sidecars", async () => {
      await write(); // stays fresh (a summary older than 30 s is ignored)
      const p: Obj = await getPolicy(admin, ns, 'orders');
      return p.status?.syncedSidecars === 3;
    });

    // Nothing else: no other ConfigMap read, listed, created, changed or deleted, nor this one deleted.
    const sa = saKc.makeApiClient(CoreV1Api);
    const other = { metadata: { name: 'other' }, data: { 'settings.json': '{"image":"evil"}' } };
    expect(await statusOf(sa.readNamespacedConfigMap({ namespace: saNs, name: 'other' }))).toBe(403);
    expect(await statusOf(sa.listNamespacedConfigMap({ namespace: saNs }))).toBe(403);
    expect(
      await statusOf(sa.createNamespacedConfigMap({ namespace: saNs, body: { metadata: { name: 'x' } } })),
    ).toBe(403);
    expect(
      await statusOf(sa.replaceNamespacedConfigMap({ namespace: saNs, name: 'other', body: other })),
    ).toBe(403);
    expect(await statusOf(sa.deleteNamespacedConfigMap({ namespace: saNs, name: 'other' }))).toBe(403);
    expect(await statusOf(new ReplicaStore(sa, saNs, 'other').write('k.json', 'x'))).toBe(403);
    expect(await statusOf(new ReplicaStore(sa, saNs, 'fresh').write('k.json', 'x'))).toBe(403);
    expect(await statusOf(sa.deleteNamespacedConfigMap({ namespace: saNs, name: REPLICAS_CONFIGMAP }))).toBe(
      403,
    );
    expect((await adminCore.readNamespacedConfigMap({ namespace: saNs, name: 'other' })).data).toEqual({
      'settings.json': '{}',
    });

    // Server-side apply of a missing object needs `create`: deleted, not even this one comes back.
    await adminCore.deleteNamespacedConfigMap({ namespace: saNs, name: REPLICAS_CONFIGMAP });
    expect(await statusOf(store.write('k.json', 'x'))).toBe(403);
    await adminCore.createNamespacedConfigMap({
      namespace: saNs,
      body: { metadata: { name: REPLICAS_CONFIGMAP } },
    });
    await write();
    // A replica that stops removes its own key and nobody else's.
    await operator.stop();
    operator = undefined;
    const left = Object.keys(await store.readAll());
    expect(left).toContain('replica-b.json');
    expect(left).not.toContain(own);
  });
});

/**
 * A back-channel logout POSTed to an operator running under `rules`, for a policy whose issuer
 * is a local identity provider with a receiver; returns the answer and the revocations made.
 */
async function logoutUnder(rules: V1PolicyRule[], registry = new Registry()) {
  const idp = await startLocalIdp();
  try {
    const { ns: saNs, user } = await serviceAccountWith(rules);
    operator = await startOperator(impersonating(admin, user), saNs, {}, registry);
    await waitFor('the operator to sync its informers under RBAC', () => Promise.resolve(operator!.ready()));
    const ns = await freshNamespace(admin, 'rbac-idp');
    const body = policyBody('orders', {
      issuer: idp.issuer,
      jwksUri: idp.jwksUri,
      algorithms: ['ES256'],
      receiver: { audience: 'orders-client', events: ['BackchannelLogout'] },
    });
    body.spec.expiry = { maxLifetimeSeconds: 900 };
    await createPolicy(admin, ns, body);
    const logout = logoutBody(await idp.logoutToken({ sub: 'alice' }, 'orders-client'));
    const path = `/v1/receivers/${ns}/orders/backchannel-logout`;
    const { port } = operator.servingAddress;
    const caPem = operator.ca.caPem();
    // Until this replica has reconciled the policy and loaded its keys, the answer is 503.
    const res = await waitFor('the receiver to act', async () => {
      const r = await postToOperator(port, caPem, path, 'application/x-www-form-urlencoded', logout);
      if (r.status === 404) return undefined; // the policy is not in this replica's cache yet
      const why =
        r.status === 503 ? (JSON.parse(r.body) as { error_description: string }).error_description : '';
      return r.status === 503 && !why.includes('TokenRevocation') ? undefined : r;
    });
    const list = await custom(admin).listNamespacedCustomObject({ ...REVOCATIONS, namespace: ns });
    return { res, revocations: list.items as Obj[] };
  } finally {
    await idp.close();
  }
}

describe('operator RBAC for the identity-provider receivers', () => {
  it('creates the TokenRevocation an event asks for under the chart rules', async () => {
    const { res, revocations } = await logoutUnder(clusterRules);
    expect(res.status).toBe(200);
    expect(revocations.length).toBe(1);
  });

  it('without create on tokenrevocations: 503 (the provider may retry), never a 200, nothing made', async () => {
    const without = clusterRules.map((r) =>
      (r.resources ?? []).includes('tokenrevocations') && (r.verbs ?? []).includes('create')
        ? { ...r, verbs: r.verbs.filter((v) => v !== 'create') }
        : r,
    );
    const grantsCreate = without.some(
      (r) => (r.resources ?? []).includes('tokenrevocations') && (r.verbs ?? []).includes('create'),
    );
    expect(grantsCreate).toBe(false);
    const registry = new Registry();
    const { res, revocations } = await logoutUnder(without, registry);
    expect(res.status).toBe(503);
    expect(revocations.length).toBe(0);
    expect(
      await metricValue(registry, 'tokenwarden_operator_receiver_events_total', {
        receiver: 'backchannel_logout',
        outcome: 'write_failed',
      }),
    ).toBeGreaterThan(0);
  });
});

describe('the chart', () => {
  // The harness builds helm with kube-apiserver; against an existing cluster, helm comes from PATH.
  const built = join(inject('testbinDir') ?? '', 'helm');
  const helm = existsSync(built) ? built : 'helm';

  it('cannot change the injection settings Secret, and can create and read only its own seal key', async () => {
    const { ns, user } = await serviceAccountWith(clusterRules);
    const adminCore = admin.makeApiClient(CoreV1Api);
    await adminCore.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: 'tw-operator-injection' }, stringData: { 'injection.json': '{}' } },
    });
    const sa = impersonating(admin, user).makeApiClient(CoreV1Api);
    const code = statusOf;
    expect(
      await code(
        sa.replaceNamespacedSecret({
          namespace: ns,
          name: 'tw-operator-injection',
          body: {
            metadata: { name: 'tw-operator-injection' },
            stringData: { 'injection.json': '{"image":"evil"}' },
          },
        }),
      ),
    ).toBe(403);
    expect(await code(sa.deleteNamespacedSecret({ namespace: ns, name: 'tw-operator-injection' }))).toBe(403);
    expect(await code(sa.readNamespacedSecret({ namespace: ns, name: 'tw-operator-injection' }))).toBe(403);
    // The seal key: created on first start, read on the next (get on that name only).
    const first = await loadSealKey(sa, ns, pino({ level: 'silent' }));
    expect(await loadSealKey(sa, ns, pino({ level: 'silent' }))).toEqual(first);
  });

  it('installs the very rules of files/, and every object it renders is accepted (dry run)', async () => {
    const ns = await freshNamespace(admin, 'chart');
    const rendered = execFileSync(
      helm,
      ['template', 'tw', join(REPO_ROOT, 'charts/tokenwarden'), '-n', ns, '--kube-version', '1.35.0'],
      {
        encoding: 'utf8',
      },
    );
    const objects = parseAllDocuments(rendered)
      .map((d): unknown => d.toJS() as unknown)
      .filter((o): o is Obj => typeof o === 'object' && o !== null);
    const byKind = (kind: string): Obj[] => objects.filter((o) => o.kind === kind);
    // The webhook's ClusterRole (its own MutatingWebhookConfiguration only) is checked in chart.test.ts.
    const operatorRoles = byKind('ClusterRole').filter((r) => !String(r.metadata.name).endsWith('-webhook'));
    expect(operatorRoles.map((r): unknown => r.rules)).toEqual([clusterRules]);
    expect(byKind('Role').map((r): unknown => r.rules)).toEqual([leaseRules]);
    const deployment = byKind('Deployment')[0]!;
    expect(deployment.spec.replicas).toBe(2);
    const container = deployment.spec.template.spec.containers[0];
    expect(container.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
    });
    expect(deployment.spec.template.spec.securityContext.runAsNonRoot).toBe(true);
    expect(container.args).toContain('operator');

    const api = KubernetesObjectApi.makeApiClient(admin);
    for (const obj of objects) {
      await api.create(obj, undefined, 'All');
    }
  });
});
