/**
 * The chart's RBAC is exactly enough: the operator, running as a ServiceAccount bound to the
 * ClusterRole rules of charts/tokenwarden/files/clusterrole-rules.yaml (and the lease Role of
 * lease-role-rules.yaml), reconciles a policy, records Events and collects an expired
 * revocation; with `patch` on tokenpolicies/status taken away, it cannot write policy status.
 * The chart installs exactly those rules and cannot reach its injection settings. Requests
 * impersonate the ServiceAccount (rbac-support.ts), so the API server's RBAC authorizer decides
 * every one of them. The replica summaries' ConfigMap: rbac-replicas.test.ts; the receivers:
 * rbac-receivers.test.ts.
 */
import { CoreV1Api, KubernetesObjectApi } from '@kubernetes/client-node';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { parseAllDocuments } from 'yaml';
import { describe, expect, inject, it } from 'vitest';
import { pino } from 'pino';
import type { OperatorFlags } from '../../src/config/operator.js';
import { loadSealKey } from '../../src/operator/webhook/seal-key.js';
import { REPO_ROOT } from './harness/control-plane.js';
import { createPodWithSa, openStream, podToken } from './stream-support.js';
import { freshNamespace } from './harness/namespace.js';
import {
  REVOCATIONS,
  createPolicy,
  createRevocation,
  custom,
  eventsFor,
  getPolicy,
  impersonating,
  inlineIssuer,
  metricValue,
  policyBody,
  publicJwk,
  readyOf,
  revocationBody,
  sleep,
  startOperator,
  waitFor,
  waitForPolicy,
  type Obj,
} from './operator-support.js';
import { clusterRules, leaseRules, serviceAccountWith, statusOf, useRbacWorld } from './rbac-support.js';

const w = useRbacWorld();

describe('operator RBAC (charts/tokenwarden/files/clusterrole-rules.yaml)', () => {
  it('is enough to reconcile, record Events and collect expired revocations', async () => {
    const { ns: saNs, user } = await serviceAccountWith(w.admin, clusterRules);
    const registry = new Registry();
    w.operator = await startOperator(impersonating(w.admin, user), saNs, {}, registry);
    await waitFor('the operator to sync its informers under RBAC', () =>
      Promise.resolve(w.operator!.ready()),
    );
    await waitFor('the operator to lead', () => Promise.resolve(w.operator!.isLeader()));

    const ns = await freshNamespace(w.admin, 'rbac-app');
    await createPolicy(w.admin, ns, policyBody('orders', inlineIssuer(await publicJwk())));
    const expiresAt = new Date(Date.now() + 3000).toISOString().replace(/\.\d+Z$/, 'Z');
    await createRevocation(w.admin, ns, revocationBody('short', { expiresAt, tokens: [{ jti: 'x' }] }));

    const p = await waitForPolicy(w.admin, ns, 'orders', 'Ready=True', (x) => readyOf(x).status === 'True');
    expect(p.status.observedGeneration).toBe(1);
    await waitFor('a Compiled Event', async () =>
      (await eventsFor(w.admin, ns, 'orders')).some((e) => e.reason === 'Compiled'),
    );
    await waitFor('the expired revocation to be collected', async () => {
      const list = await custom(w.admin).listNamespacedCustomObject({ ...REVOCATIONS, namespace: ns });
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
    const secret = await w.admin
      .makeApiClient(CoreV1Api)
      .readNamespacedSecret({ namespace: saNs, name: 'tokenwarden-serving' });
    expect(secret.type).toBe('kubernetes.io/tls');
    const pod = await createPodWithSa(w.admin, ns, 'orders-1', { app: 'orders' });
    const stream = await openStream(
      w.operator.servingAddress.port,
      w.operator.ca.caPem(),
      await podToken(w.admin, pod),
    );
    expect(stream.status).toBe(200);
    expect(await stream.next()).toMatchObject({ type: 'snapshot' });
    stream.close();
  });

  /** An operator under the chart rules without create on tokenreviews, and a pod's stream to it. */
  async function streamWithoutTokenReviews(flags: OperatorFlags) {
    const without = clusterRules.filter((r) => !(r.resources ?? []).includes('tokenreviews'));
    expect(without.length).toBe(clusterRules.length - 1);
    const { ns: saNs, user } = await serviceAccountWith(w.admin, without);
    w.operator = await startOperator(impersonating(w.admin, user), saNs, flags);
    await waitFor('the operator to sync its informers under RBAC', () =>
      Promise.resolve(w.operator!.ready()),
    );
    const ns = await freshNamespace(w.admin, 'rbac-stream');
    await createPolicy(w.admin, ns, policyBody('orders', inlineIssuer(await publicJwk())));
    const pod = await createPodWithSa(w.admin, ns, 'orders-1', { app: 'orders' });
    return {
      pod,
      open: async () =>
        openStream(w.operator!.servingAddress.port, w.operator!.ca.caPem(), await podToken(w.admin, pod)),
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
    const { ns: saNs, user } = await serviceAccountWith(w.admin, withoutPolicyStatus);
    const registry = new Registry();
    w.operator = await startOperator(impersonating(w.admin, user), saNs, {}, registry);
    await waitFor('the operator to lead', () => Promise.resolve(w.operator!.isLeader()));

    const ns = await freshNamespace(w.admin, 'rbac-denied');
    await createPolicy(w.admin, ns, policyBody('orders', inlineIssuer(await publicJwk())));
    await waitFor('a failed (403) policy reconcile', async () => {
      const errors = await metricValue(registry, 'tokenwarden_operator_reconcile_total', {
        kind: 'TokenPolicy',
        result: 'error',
      });
      return errors > 0;
    });
    await sleep(2000);
    const p: Obj = await getPolicy(w.admin, ns, 'orders');
    expect(p.status).toBeUndefined();
  });
});

describe('the chart', () => {
  // The harness builds helm with kube-apiserver; against an existing cluster, helm comes from PATH.
  const built = join(inject('testbinDir') ?? '', 'helm');
  const helm = existsSync(built) ? built : 'helm';

  it('cannot change the injection settings Secret, and can create and read only its own seal key', async () => {
    const { ns, user } = await serviceAccountWith(w.admin, clusterRules);
    const adminCore = w.admin.makeApiClient(CoreV1Api);
    await adminCore.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: 'tw-operator-injection' }, stringData: { 'injection.json': '{}' } },
    });
    const sa = impersonating(w.admin, user).makeApiClient(CoreV1Api);
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
    const ns = await freshNamespace(w.admin, 'chart');
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

    const api = KubernetesObjectApi.makeApiClient(w.admin);
    for (const obj of objects) {
      await api.create(obj, undefined, 'All');
    }
  });
});
