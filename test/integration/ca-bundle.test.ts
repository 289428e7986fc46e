/**
 * syncCaBundle against the real API server, with the chart's MutatingWebhookConfiguration and,
 * impersonating the operator's ServiceAccount, the chart's webhook ClusterRole: the operator can
 * keep its own configuration's caBundle and cannot touch anyone else's.
 */
import {
  AdmissionregistrationV1Api,
  CoreV1Api,
  RbacAuthorizationV1Api,
  type KubeConfig,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syncCaBundle } from '../../src/operator/webhook/ca-bundle.js';
import { applyObject, deleteObject, renderChart } from './chart-support.js';
import { testCa } from './harness/certs.js';
import { freshNamespace, loadKubeConfig } from './harness/namespace.js';
import { impersonating, suffix, type Obj } from './operator-support.js';

let admin: KubeConfig;
let mwc: Obj;
let other: Obj;
const CA_1 = '-----BEGIN CERTIFICATE-----\nMIIBone\n-----END CERTIFICATE-----\n';
const b64 = (s: string): string => Buffer.from(s).toString('base64');

/** A webhook configuration nobody calls: it selects namespaces with a label no test sets. */
function inert(obj: Obj): Obj {
  const copy = structuredClone(obj);
  for (const w of copy.webhooks as Obj[]) {
    w.namespaceSelector = { matchLabels: { 'tokenwarden.dev/never': 'true' } };
  }
  return copy;
}

beforeAll(async () => {
  admin = loadKubeConfig();
  const ns = await freshNamespace(admin, 'ca-bundle');
  const objects = await renderChart(`tw-ca-${suffix()}`, ns);
  mwc = inert(objects.find((o) => o.kind === 'MutatingWebhookConfiguration')!);
  await applyObject(admin, mwc);
  other = structuredClone(mwc);
  other.metadata.name = `someone-else-${suffix()}`;
  delete other.metadata.labels;
  await applyObject(admin, other);
  // The chart's ServiceAccount with the chart's webhook ClusterRole and binding, for real.
  for (const o of objects) {
    if (o.kind === 'ServiceAccount' || String(o.metadata.name).endsWith('-webhook'))
      await applyObject(admin, o);
  }
});

afterAll(async () => {
  if (mwc) await deleteObject(admin, mwc);
  if (other) await deleteObject(admin, other);
});

const caBundleOf = async (name: string): Promise<string | undefined> =>
  (await admin.makeApiClient(AdmissionregistrationV1Api).readMutatingWebhookConfiguration({ name }))
    .webhooks?.[0]?.clientConfig.caBundle;

describe('syncCaBundle', () => {
  it('sets the caBundle, then finds nothing to do, then follows a new CA', async () => {
    const name = mwc.metadata.name as string;
    expect(await caBundleOf(name)).toBeUndefined();
    expect(await syncCaBundle(admin, name, CA_1)).toBe('updated');
    expect(await caBundleOf(name)).toBe(b64(CA_1));
    expect(await syncCaBundle(admin, name, CA_1)).toBe('unchanged');
    const ca2 = testCa().certPem;
    expect(await syncCaBundle(admin, name, ca2)).toBe('updated');
    expect(await caBundleOf(name)).toBe(b64(ca2));
  });

  it('says not_found when there is no such configuration', async () => {
    expect(await syncCaBundle(admin, `absent-${suffix()}`, CA_1)).toBe('not_found');
  });

  it('runs under the chart RBAC for its own configuration only', async () => {
    const sa = (
      await admin.makeApiClient(CoreV1Api).listServiceAccountForAllNamespaces({
        labelSelector: `app.kubernetes.io/instance=${mwc.metadata.labels['app.kubernetes.io/instance'] as string}`,
      })
    ).items[0]!;
    const binding = await admin
      .makeApiClient(RbacAuthorizationV1Api)
      .readClusterRoleBinding({ name: `${sa.metadata!.name!}-webhook` });
    expect(binding.subjects?.[0]?.name).toBe(sa.metadata!.name);
    const operator = impersonating(
      admin,
      `system:serviceaccount:${sa.metadata!.namespace!}:${sa.metadata!.name!}`,
    );
    const ca3 = '-----BEGIN CERTIFICATE-----\nMIIBthree\n-----END CERTIFICATE-----\n';
    expect(await syncCaBundle(operator, mwc.metadata.name as string, ca3)).toBe('updated');
    expect(await caBundleOf(mwc.metadata.name as string)).toBe(b64(ca3));
    await expect(syncCaBundle(operator, other.metadata.name as string, ca3)).rejects.toMatchObject({
      code: 403,
    });
    expect(await caBundleOf(other.metadata.name as string)).toBeUndefined();
  });
});
