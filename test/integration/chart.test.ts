/**
 * The Helm chart: `helm lint`, `helm template` with default and non-default values, the values
 * schema refusing typos, and every rendered object applied (server-side) to the real API server.
 * The webhook's own path (registration, pods) is in injection.test.ts; the caBundle RBAC in
 * ca-bundle.test.ts.
 */
import { type KubeConfig } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseInjectionConfig } from '../../src/config/injection.js';
import { CHART, applyObject, deleteObject, helm, renderChart } from './chart-support.js';
import { freshNamespace, loadKubeConfig } from './harness/namespace.js';
import { suffix, type Obj } from './operator-support.js';

let admin: KubeConfig;
beforeAll(() => {
  admin = loadKubeConfig();
});

const NON_DEFAULT = [
  'image.digest=sha256:' + 'a'.repeat(64),
  'image.pullPolicy=Always',
  'operator.replicas=1',
  'operator.logLevel=debug',
  'sidecar.logLevel=warn',
  'sidecar.resources.requests.cpu=50m',
  'sidecar.resources.limits.memory=256Mi',
  'capture.mode=none',
  'capture.ipv6=off',
  'webhook.failurePolicy=Ignore',
  'webhook.timeoutSeconds=3',
  'webhook.excludeNamespaces={monitoring,istio-system}',
  'service.name=tw-control',
];

const byKind = (objects: Obj[], kind: string): Obj[] => objects.filter((o) => o.kind === kind);
const one = (objects: Obj[], kind: string): Obj => {
  const list = byKind(objects, kind);
  expect(list, kind).toHaveLength(1);
  return list[0]!;
};

/** Applies every object for real (server-side), then removes the cluster-wide webhook again. */
async function applyAll(objects: Obj[]): Promise<Obj[]> {
  const stored: Obj[] = [];
  try {
    for (const obj of objects) stored.push(await applyObject(admin, obj));
  } finally {
    // A live webhook pointing at a Service without endpoints would refuse pods in labelled
    // namespaces of the other tests.
    for (const obj of byKind(objects, 'MutatingWebhookConfiguration')) await deleteObject(admin, obj);
  }
  return stored;
}

describe('helm lint', () => {
  it.each([
    ['default values', []],
    ['non-default values', NON_DEFAULT],
    ['cert-manager', ['certManager.enabled=true']],
  ])('passes with %s', async (_name, set) => {
    const args = ['lint', CHART, '--strict', '--kube-version', '1.35.0'];
    for (const s of set) args.push('--set', s);
    const run = await helm(args);
    expect(run.stderr + run.stdout).toContain('0 chart(s) failed');
    expect(run.code).toBe(0);
  });
});

describe('values.schema.json', () => {
  it.each([
    ['a misspelt key', 'sidecar.logLvel=debug', 'logLvel'],
    ['an unknown capture mode', 'capture.mode=ebpf', '/capture/mode'],
    ['an unknown top-level key', 'webhooks.enabled=false', 'webhooks'],
    ['a failurePolicy outside the enum', 'webhook.failurePolicy=Never', 'failurePolicy'],
    ['a service port the sidecar uses', 'service.port=15090', '/service/port'],
    ['a monitoring typo', 'monitoring.serviceMonitor.enable=true', 'enable'],
  ])('fails helm template on %s', async (_name, set, mention) => {
    const run = await helm(['template', 'tw', CHART, '--set', set]);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/schema/i);
    expect(run.stderr).toContain(mention);
  });
});

describe('helm template', () => {
  it('renders the webhook, its Service and the injection settings with the default values', async () => {
    const release = `tw-${suffix()}`;
    const ns = 'tokenwarden-system';
    const objects = await renderChart(release, ns);
    const mwc = one(objects, 'MutatingWebhookConfiguration');
    expect(mwc.metadata.annotations).toBeUndefined();
    const hooks = mwc.webhooks as Obj[];
    expect(hooks.map((h): unknown[] => [h.name, h.clientConfig.service.path])).toEqual([
      ['inject.tokenwarden.dev', '/inject'],
      ['inject-permissive.tokenwarden.dev', '/inject/permissive'],
    ]);
    for (const [i, hook] of hooks.entries()) {
      expect(hook).toMatchObject({
        admissionReviewVersions: ['v1'],
        clientConfig: { service: { name: 'tokenwarden', namespace: ns, port: 443 } },
        rules: [
          {
            operations: ['CREATE', 'UPDATE'],
            apiGroups: [''],
            apiVersions: ['v1'],
            resources: ['pods', 'pods/ephemeralcontainers'],
          },
        ],
        failurePolicy: 'Fail',
        sideEffects: 'None',
        timeoutSeconds: 5,
        reinvocationPolicy: 'IfNeeded',
      });
      expect(hook.matchConditions).toHaveLength(1);
      // Strict where the platform did not label the namespace permissive; permissive where it did.
      expect(hook.namespaceSelector.matchExpressions).toEqual([
        { key: 'tokenwarden.dev/injection', operator: 'In', values: ['enabled'] },
        {
          key: 'tokenwarden.dev/injection-policy',
          operator: i === 0 ? 'NotIn' : 'In',
          values: ['permissive'],
        },
        { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', ns] },
      ]);
    }

    const service = objects.find((o) => o.kind === 'Service' && o.metadata.name === 'tokenwarden')!;
    expect(service.spec.ports).toEqual([
      { name: 'webhook', port: 443, targetPort: 'https', protocol: 'TCP' },
      { name: 'stream', port: 15443, targetPort: 'https', protocol: 'TCP' },
    ]);
    const deployment = one(objects, 'Deployment');
    const container = deployment.spec.template.spec.containers[0] as Obj;
    expect(container.ports).toContainEqual({ name: 'https', containerPort: 15443, protocol: 'TCP' });
    expect(container.args).toEqual(
      expect.arrayContaining([
        '--serve=0.0.0.0:15443',
        '--service-name=tokenwarden',
        '--injection-config=/etc/tokenwarden/injection/injection.json',
        `--webhook-configuration=${mwc.metadata.name as string}`,
      ]),
    );
    expect(container.args).not.toContain('--cert-manager');

    const settings = objects.find(
      (o) => o.kind === 'Secret' && String(o.metadata.name).endsWith('-injection'),
    )!;
    const config = parseInjectionConfig(settings.stringData['injection.json'] as string);
    expect(config).toEqual({
      image: 'ghcr.io/tokenwarden/tokenwarden:0.1.0',
      imagePullPolicy: 'IfNotPresent',
      controlPlaneUrl: `https://tokenwarden.${ns}.svc:15443`,
      logLevel: 'info',
      defaultCaptureMode: 'iptables',
      captureIpv6: 'on',
      sidecarResources: { requests: { cpu: '20m', memory: '64Mi' }, limits: { memory: '192Mi' } },
      captureResources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '96Mi' } },
    });

    // The operator may patch the caBundle of its own webhook configuration, and of no other.
    const role = objects.find(
      (o) => o.kind === 'ClusterRole' && String(o.metadata.name).endsWith('-webhook'),
    )!;
    expect(role.rules).toEqual([
      {
        apiGroups: ['admissionregistration.k8s.io'],
        resources: ['mutatingwebhookconfigurations'],
        resourceNames: [mwc.metadata.name],
        verbs: ['get', 'patch'],
      },
    ]);
  });

  it('follows non-default values', async () => {
    const ns = 'tw-custom';
    const objects = await renderChart(`tw-${suffix()}`, ns, NON_DEFAULT);
    const hook = one(objects, 'MutatingWebhookConfiguration').webhooks[0] as Obj;
    expect(hook.failurePolicy).toBe('Ignore');
    expect(hook.timeoutSeconds).toBe(3);
    expect(hook.clientConfig.service.name).toBe('tw-control');
    expect(hook.namespaceSelector.matchExpressions[2].values).toEqual([
      'kube-system',
      ns,
      'monitoring',
      'istio-system',
    ]);
    const settings = objects.find(
      (o) => o.kind === 'Secret' && String(o.metadata.name).endsWith('-injection'),
    )!;
    const config = parseInjectionConfig(settings.stringData['injection.json'] as string);
    expect(config).toMatchObject({
      image: `ghcr.io/tokenwarden/tokenwarden@sha256:${'a'.repeat(64)}`,
      imagePullPolicy: 'Always',
      controlPlaneUrl: `https://tw-control.${ns}.svc:15443`,
      logLevel: 'warn',
      defaultCaptureMode: 'none',
      captureIpv6: 'off',
      sidecarResources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } },
    });
    expect(byKind(objects, 'PodDisruptionBudget')).toEqual([]);
    expect(one(objects, 'Deployment').spec.template.spec.containers[0].args).toContain('--log-level=debug');
  });

  it('renders the cert-manager chain and the cainjector annotation with certManager.enabled', async () => {
    const ns = 'tokenwarden-system';
    const objects = await renderChart('tokenwarden', ns, ['certManager.enabled=true']);
    const mwc = one(objects, 'MutatingWebhookConfiguration');
    const serving = objects.find(
      (o) => o.kind === 'Certificate' && o.spec.secretName === 'tokenwarden-serving',
    )!;
    expect(mwc.metadata.annotations['cert-manager.io/inject-ca-from']).toBe(
      `${ns}/${serving.metadata.name as string}`,
    );
    expect(serving.spec.dnsNames).toEqual([
      'tokenwarden',
      `tokenwarden.${ns}.svc`,
      `tokenwarden.${ns}.svc.cluster.local`,
    ]);
    expect(byKind(objects, 'Issuer').map((i) => Object.keys(i.spec)[0])).toEqual(['selfSigned', 'ca']);
    expect(one(objects, 'Deployment').spec.template.spec.containers[0].args).toContain('--cert-manager');

    const external = await renderChart('tokenwarden', ns, [
      'certManager.enabled=true',
      'certManager.issuerRef.name=corp-ca',
      'certManager.issuerRef.kind=ClusterIssuer',
    ]);
    expect(byKind(external, 'Issuer')).toEqual([]);
    expect(one(external, 'Certificate').spec.issuerRef).toEqual({ name: 'corp-ca', kind: 'ClusterIssuer' });
  });

  it('renders no webhook objects with webhook.enabled=false', async () => {
    const objects = await renderChart('tokenwarden', 'tokenwarden-system', ['webhook.enabled=false']);
    expect(byKind(objects, 'MutatingWebhookConfiguration')).toEqual([]);
    // The replica summaries' ConfigMap is the operator's, with or without the webhook.
    expect(byKind(objects, 'ConfigMap').map((o) => o.metadata.name as string)).toEqual([
      'tokenwarden-replicas',
    ]);
    expect(byKind(objects, 'Secret')).toEqual([]);
    const args = one(objects, 'Deployment').spec.template.spec.containers[0].args as string[];
    expect(args.some((a) => a.startsWith('--injection-config'))).toBe(false);
  });
});

describe('the rendered chart on the API server', () => {
  it.each([
    ['default values', []],
    ['non-default values', NON_DEFAULT],
  ])('accepts every object with %s (server-side apply)', async (_name, set) => {
    const ns = await freshNamespace(admin, 'chart-apply');
    const objects = await renderChart(`tw-${suffix()}`, ns, set);
    expect(objects.length).toBeGreaterThan(8);
    const stored = await applyAll(objects);
    expect(stored.map((o) => `${o.kind as string}/${o.metadata.name as string}`)).toEqual(
      objects.map((o) => `${o.kind as string}/${o.metadata.name as string}`),
    );
    const mwc = stored.find((o) => o.kind === 'MutatingWebhookConfiguration')!;
    // Defaults the API server fills must not differ from what the chart says.
    expect(mwc.webhooks[0]).toMatchObject({ matchPolicy: 'Equivalent', sideEffects: 'None' });
  });
});
