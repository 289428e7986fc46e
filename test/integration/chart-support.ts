/**
 * The Helm chart in tests: `helm` from the test binaries (else PATH), rendering with values, and
 * applying rendered objects to the API server with a raw server-side apply (raw.ts: the typed
 * client would rewrite objects through its models).
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { inject } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT } from './harness/control-plane.js';
import { kubeRequest } from './harness/raw.js';
import type { Obj } from './operator-support.js';

export const CHART = join(REPO_ROOT, 'charts/tokenwarden');

export function helmBin(): string {
  const built = join(inject('testbinDir') ?? '', 'helm');
  return existsSync(built) ? built : 'helm';
}

export interface HelmRun {
  code: number;
  stdout: string;
  stderr: string;
}

export function helm(args: string[]): Promise<HelmRun> {
  return new Promise((resolve) => {
    execFile(helmBin(), args, { maxBuffer: 16 << 20, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** `helm template RELEASE chart -n NS --set …` → objects; throws with helm's message on failure. */
export async function renderChart(release: string, namespace: string, set: string[] = []): Promise<Obj[]> {
  const args = ['template', release, CHART, '-n', namespace, '--kube-version', '1.35.0'];
  for (const s of set) args.push('--set', s);
  const run = await helm(args);
  if (run.code !== 0) throw new Error(`helm template failed: ${run.stderr}`);
  return parseAllDocuments(run.stdout)
    .map((d): unknown => d.toJS() as unknown)
    .filter((o): o is Obj => typeof o === 'object' && o !== null);
}

const PATHS: Record<string, { prefix: string; plural: string; namespaced: boolean }> = {
  ServiceAccount: { prefix: '/api/v1', plural: 'serviceaccounts', namespaced: true },
  Service: { prefix: '/api/v1', plural: 'services', namespaced: true },
  ConfigMap: { prefix: '/api/v1', plural: 'configmaps', namespaced: true },
  Secret: { prefix: '/api/v1', plural: 'secrets', namespaced: true },
  Deployment: { prefix: '/apis/apps/v1', plural: 'deployments', namespaced: true },
  PodDisruptionBudget: { prefix: '/apis/policy/v1', plural: 'poddisruptionbudgets', namespaced: true },
  ClusterRole: { prefix: '/apis/rbac.authorization.k8s.io/v1', plural: 'clusterroles', namespaced: false },
  ClusterRoleBinding: {
    prefix: '/apis/rbac.authorization.k8s.io/v1',
    plural: 'clusterrolebindings',
    namespaced: false,
  },
  Role: { prefix: '/apis/rbac.authorization.k8s.io/v1', plural: 'roles', namespaced: true },
  RoleBinding: { prefix: '/apis/rbac.authorization.k8s.io/v1', plural: 'rolebindings', namespaced: true },
  MutatingWebhookConfiguration: {
    prefix: '/apis/admissionregistration.k8s.io/v1',
    plural: 'mutatingwebhookconfigurations',
    namespaced: false,
  },
};

export function objectPath(obj: Obj): string {
  const p = PATHS[obj.kind as string];
  if (p === undefined) throw new Error(`chart-support: no API path for kind ${String(obj.kind)}`);
  const ns = p.namespaced ? `/namespaces/${obj.metadata.namespace as string}` : '';
  return `${p.prefix}${ns}/${p.plural}/${obj.metadata.name as string}`;
}

/** Server-side apply of one object; returns the stored object or throws with the API's answer. */
export async function applyObject(kc: KubeConfig, obj: Obj, dryRun = false): Promise<Obj> {
  const res = await kubeRequest(kc, {
    method: 'PATCH',
    path: `${objectPath(obj)}?fieldManager=tokenwarden-tests&force=true${dryRun ? '&dryRun=All' : ''}`,
    contentType: 'application/apply-patch+yaml',
    body: obj,
  });
  if (res.status >= 300)
    throw new Error(`apply ${obj.kind}/${obj.metadata.name} failed: ${res.status} ${res.body}`);
  return res.json<Obj>();
}

export async function deleteObject(kc: KubeConfig, obj: Obj): Promise<void> {
  await kubeRequest(kc, { method: 'DELETE', path: objectPath(obj) });
}
