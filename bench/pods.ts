/**
 * Operator memory with many pods: `npm run bench:pods [-- --pods 10000 --selected 500]`.
 *
 * Starts a real etcd + kube-apiserver (the integration harness), installs the CRDs, creates
 * `--pods` pods of which `--selected` are in one namespace with a TokenPolicy selecting them and
 * the rest spread over 19 namespaces without one, then runs the real operator (dist/, a child
 * process) twice and reads its heap and RSS from its own /metrics after its caches synced:
 *   scoped       the shipped behaviour: pods watched only in namespaces holding a policy
 *   every-ns     the same pods with a (non-selecting) policy in every namespace, so every pod
 *                is cached: what the former cluster-wide pod informer held
 * Prints a Markdown table; bench/README.md records the figures.
 */
import { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { startControlPlane } from '../test/integration/harness/control-plane.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const { values } = parseArgs({
  options: { pods: { type: 'string', default: '10000' }, selected: { type: 'string', default: '500' } },
});
const TOTAL = Number(values.pods);
const SELECTED = Number(values.selected);
const OTHER_NAMESPACES = 19;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function pool<T>(items: T[], width: number, fn: (t: T) => Promise<unknown>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (i < items.length) await fn(items[i++] as T);
    }),
  );
}

function policy(name: string, app: string): Record<string, unknown> {
  return {
    apiVersion: 'tokenwarden.dev/v1alpha1',
    kind: 'TokenPolicy',
    metadata: { name },
    spec: {
      selector: { matchLabels: { app } },
      targetPort: 8080,
      issuers: [
        {
          issuer: 'https://idp.example/',
          audiences: ['a'],
          jwks: {
            keys: [
              {
                kty: 'EC',
                crv: 'P-256',
                x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
                y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
                kid: 'k',
              },
            ],
          },
        },
      ],
    },
  };
}

async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.split(' ')[1] ?? NaN);
}

async function measure(
  kubeconfig: string,
  ns: string,
): Promise<{ heapMb: number; rssMb: number; syncMs: number }> {
  const metricsPort = await freePort();
  const started = Date.now();
  const child = spawn(
    process.execPath,
    [
      join(ROOT, 'dist/cmd/tokenwarden.js'),
      'operator',
      `--kubeconfig=${kubeconfig}`,
      `--metrics-listen=127.0.0.1:${metricsPort}`,
      '--serve=127.0.0.1:0',
      `--namespace=${ns}`,
      '--log-level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  try {
    for (;;) {
      const ready = await fetch(`http://127.0.0.1:${metricsPort}/readyz`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ready) break;
      if (Date.now() - started > 180_000) throw new Error('operator not ready within 180 s');
      await new Promise((r) => setTimeout(r, 200));
    }
    const syncMs = Date.now() - started;
    // Let the first reconciles and the young generation settle, then take the larger of three looks.
    await new Promise((r) => setTimeout(r, 5_000));
    let heap = 0;
    let rss = 0;
    for (let i = 0; i < 3; i++) {
      heap = Math.max(
        heap,
        await metric(metricsPort, 'tokenwarden_operator_process_nodejs_heap_size_used_bytes'),
      );
      rss = Math.max(
        rss,
        await metric(metricsPort, 'tokenwarden_operator_process_process_resident_memory_bytes'),
      );
      await new Promise((r) => setTimeout(r, 1_000));
    }
    return { heapMb: heap / 2 ** 20, rssMb: rss / 2 ** 20, syncMs };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

async function main(): Promise<void> {
  const binDir = process.env.TOKENWARDEN_TESTBIN_DIR;
  if (!binDir) throw new Error('set TOKENWARDEN_TESTBIN_DIR=$(bash hack/k8s-testbin/build.sh all)');
  const cp = await startControlPlane({ binDir });
  try {
    const kc = new KubeConfig();
    kc.loadFromFile(cp.kubeconfigPath);
    const core = kc.makeApiClient(CoreV1Api);
    const custom = kc.makeApiClient(CustomObjectsApi);
    for (const f of ['tokenpolicies.tokenwarden.dev.yaml', 'tokenrevocations.tokenwarden.dev.yaml']) {
      for (const d of parseAllDocuments(await readFile(join(ROOT, 'crds', f), 'utf8')))
        await fetchCreateCrd(kc, d.toJS() as Record<string, unknown>);
    }
    await new Promise((r) => setTimeout(r, 3_000)); // CRDs established
    const namespaces = [
      'bench-app',
      ...Array.from({ length: OTHER_NAMESPACES }, (_, i) => `bench-other-${i}`),
    ];
    for (const name of [...namespaces, 'bench-operator'])
      await core.createNamespace({ body: { metadata: { name } } });
    await custom.createNamespacedCustomObject({
      group: 'tokenwarden.dev',
      version: 'v1alpha1',
      plural: 'tokenpolicies',
      namespace: 'bench-app',
      body: policy('orders', 'orders'),
    });
    const pods: { ns: string; name: string; app: string }[] = [];
    for (let i = 0; i < SELECTED; i++) pods.push({ ns: 'bench-app', name: `orders-${i}`, app: 'orders' });
    for (let i = 0; i < TOTAL - SELECTED; i++)
      pods.push({ ns: namespaces[1 + (i % OTHER_NAMESPACES)] as string, name: `other-${i}`, app: 'other' });
    const t0 = Date.now();
    await pool(pods, 32, (p) =>
      core.createNamespacedPod({
        namespace: p.ns,
        body: {
          metadata: {
            name: p.name,
            labels: { app: p.app, 'pod-template-hash': '5d8f7c9b6d', tier: 'backend' },
          },
          spec: {
            containers: [
              { name: 'app', image: 'registry.k8s.io/pause:3.10', ports: [{ containerPort: 8080 }] },
            ],
          },
        },
      }),
    );
    process.stderr.write(`created ${pods.length} pods in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);

    const scoped = await measure(cp.kubeconfigPath, 'bench-operator');
    for (const ns of namespaces.slice(1))
      await custom.createNamespacedCustomObject({
        group: 'tokenwarden.dev',
        version: 'v1alpha1',
        plural: 'tokenpolicies',
        namespace: ns,
        body: policy('none', 'nothing-has-this'),
      });
    const everyNs = await measure(cp.kubeconfigPath, 'bench-operator');
    const row = (name: string, cached: number, m: typeof scoped) =>
      `| ${name} | ${cached} | ${m.heapMb.toFixed(1)} | ${m.rssMb.toFixed(1)} | ${(m.syncMs / 1000).toFixed(1)} |`;
    process.stdout.write(
      [
        `${TOTAL} pods, ${SELECTED} selected by the one TokenPolicy (namespace bench-app)`,
        '',
        '| pod watch | pods cached | heap used MiB | RSS MiB | start → ready s |',
        '|---|---|---|---|---|',
        row('scoped (namespaces with a policy)', SELECTED, scoped),
        row('every namespace (≈ former cluster-wide)', TOTAL, everyNs),
        '',
      ].join('\n'),
    );
  } finally {
    await cp.stop();
  }
}

async function fetchCreateCrd(kc: KubeConfig, body: Record<string, unknown>): Promise<void> {
  const { ApiextensionsV1Api } = await import('@kubernetes/client-node');
  await kc.makeApiClient(ApiextensionsV1Api).createCustomResourceDefinition({ body: body as never });
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:pods: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
