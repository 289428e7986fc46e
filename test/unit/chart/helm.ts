/**
 * `helm template` of charts/tokenwarden with the helm the test binaries build (else PATH), for
 * tests that read what the chart renders. Undefined when there is no helm (the caller skips with
 * the reason printed; with CI=true it fails).
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { readRepoFile } from './metric-names.js';

const run = promisify(execFile);
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
}

export function findHelm(): string | undefined {
  const env = readRepoFile('hack/k8s-testbin/versions.env');
  const v = (name: string): string => new RegExp(`^${name}=(\\S+)$`, 'm').exec(env)?.[1] ?? '';
  const cache =
    process.env.TOKENWARDEN_TESTBIN_CACHE ??
    join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'tokenwarden', 'k8s-testbin');
  const built = [
    process.env.TOKENWARDEN_TESTBIN_DIR ? join(process.env.TOKENWARDEN_TESTBIN_DIR, 'helm') : '',
    join(cache, `kube-${v('KUBE_VERSION')}-etcd-${v('ETCD_VERSION')}-helm-${v('HELM_VERSION')}`, 'helm'),
  ].find((c) => c && existsSync(c));
  if (built) return built;
  try {
    execFileSync('helm', ['version', '--short'], { stdio: 'ignore' });
    return 'helm';
  } catch {
    return undefined;
  }
}

/** Skips (or, under CI, fails) with a printed reason when helm is missing. */
export function helmOrSkipReason(): string | undefined {
  const helm = findHelm();
  if (!helm) {
    const message = 'chart rendering tests skipped: no helm (run: bash hack/k8s-testbin/build.sh helm)';
    if (process.env.CI === 'true') throw new Error(`${message}; CI must run them`);
    console.warn(`\n*** ${message} ***\n`);
  }
  return helm;
}

export async function helmTemplate(helm: string, set: string[] = []): Promise<K8sObject[]> {
  // The chart requires Kubernetes >= 1.30; helm built from source defaults to v1.20 offline.
  const kube = /^KUBE_VERSION=(\S+)$/m.exec(readRepoFile('hack/k8s-testbin/versions.env'))?.[1] ?? 'v1.35.0';
  const args = [
    'template',
    'tokenwarden',
    'charts/tokenwarden',
    '-n',
    'tokenwarden-system',
    '--kube-version',
    kube,
  ];
  for (const s of set) args.push('--set', s);
  const { stdout } = await run(helm, args, { cwd: ROOT, maxBuffer: 32 * 1024 * 1024 });
  return parseAllDocuments(stdout)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}
