/**
 * What the in-cluster benches share: a real kube-apiserver + etcd (test/integration/harness),
 * pods with pod-bound tokens, the real operator and sidecar processes (dist/cmd/tokenwarden.js),
 * and small waiting and statistics helpers. Every process listens on 127.0.0.1.
 */
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** dist/bench/x.js → the repository (crds/, hack/, dist/cmd). */
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = join(REPO, 'dist/cmd/tokenwarden.js');
export const OPERATOR_NS = 'tokenwarden-system';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` every 100 ms until it returns something other than undefined/false. */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  ms: number,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(100);
  }
}

/** Runs `fn` over `items` with at most `n` in flight. */
export async function pool<T, R>(
  items: readonly T[],
  n: number,
  fn: (t: T, i: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i] as T, i);
      }
    }),
  );
  return out;
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

/** `count` pods labelled app=bench under the service account `bench` (never scheduled). */
export async function createPods(
  kc: KubeConfig,
  ns: string,
  count: number,
): Promise<{ name: string; uid: string }[]> {
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'bench' } } });
  const names = Array.from({ length: count }, (_, i) => `bench-${i}`);
  return pool(names, 16, async (name) => {
    const pod = await core.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: { name, labels: { app: 'bench' } },
        spec: {
          serviceAccountName: 'bench',
          containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.10' }],
        },
      },
    });
    return { name, uid: pod.metadata?.uid ?? '' };
  });
}

/** One pod-bound token (audience tokenwarden) per pod, as the kubelet would project it. */
export async function podTokens(
  kc: KubeConfig,
  ns: string,
  pods: { name: string; uid: string }[],
): Promise<string[]> {
  const core = kc.makeApiClient(CoreV1Api);
  return pool(pods, 16, async (p) => {
    const tr = await core.createNamespacedServiceAccountToken({
      name: 'bench',
      namespace: ns,
      body: {
        spec: {
          audiences: ['tokenwarden'],
          expirationSeconds: 3600,
          boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: p.name, uid: p.uid },
        },
      },
    });
    return tr.status?.token ?? '';
  });
}

export interface Spawned {
  child: ChildProcess;
  output: () => string;
}

/** The CLI as shipped (no NODE_OPTIONS added); the last 200 KB of its output kept for errors. */
export function spawnCli(args: string[], env: Record<string, string> = {}, cli = CLI): Spawned {
  const child = spawn(process.execPath, [cli, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let out = '';
  const keep = (s: Buffer): void => {
    out = (out + s.toString()).slice(-200_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return { child, output: () => out };
}

/** TOKENWARDEN_TESTBIN_DIR, else what hack/k8s-testbin/build.sh prints (building when not cached). */
export function testBinaries(): Promise<string> {
  const fromEnv = process.env.TOKENWARDEN_TESTBIN_DIR;
  if (fromEnv) return Promise.resolve(fromEnv);
  return new Promise((ok, fail) => {
    const child = execFile(
      'bash',
      [join(REPO, 'hack/k8s-testbin/build.sh'), 'all'],
      { maxBuffer: 1 << 20 },
      (err, stdout) =>
        err
          ? fail(new Error(`hack/k8s-testbin/build.sh failed: ${err.message}`))
          : ok(stdout.trim().split('\n').pop() ?? ''),
    );
    child.stderr?.pipe(process.stderr);
  });
}

/** `tokenwarden operator` as shipped, serving HTTPS and metrics on 127.0.0.1. */
export function operatorArgs(kubeconfigPath: string, servePort: number, metricsPort: number): string[] {
  return [
    'operator',
    '--kubeconfig',
    kubeconfigPath,
    '--namespace',
    OPERATOR_NS,
    '--lease-namespace',
    OPERATOR_NS,
    '--serve',
    `127.0.0.1:${servePort}`,
    '--serving-ip',
    '127.0.0.1',
    '--metrics-listen',
    `127.0.0.1:${metricsPort}`,
    '--log-level',
    'warn',
  ];
}

/** The operator pod's identity, as the chart's Deployment gives it. */
export const OPERATOR_ENV: Readonly<Record<string, string>> = {
  POD_NAME: 'bench-operator',
  POD_NAMESPACE: OPERATOR_NS,
};

/** The serving CA (PEM) once the operator has written Secret tokenwarden-serving. */
export async function servingCa(kc: KubeConfig, operator: Spawned): Promise<string> {
  const core = kc.makeApiClient(CoreV1Api);
  return until(
    'the tokenwarden-serving Secret',
    async () => {
      if (operator.child.exitCode !== null) throw new Error(`operator exited: ${operator.output()}`);
      const s = await core.readNamespacedSecret({ name: 'tokenwarden-serving', namespace: OPERATOR_NS });
      const ca = s.data?.['ca.crt'];
      return ca === undefined ? undefined : Buffer.from(ca, 'base64').toString('utf8');
    },
    60_000,
  ).catch((e: Error) => {
    throw new Error(`${e.message}\n--- operator output ---\n${operator.output()}`);
  });
}
