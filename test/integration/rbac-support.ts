/**
 * What the RBAC tests share: the chart's rules (charts/tokenwarden/files), a ServiceAccount bound
 * to a set of rules, and the file's hooks (an admin client; the operator under test stopped after
 * each case). Requests impersonate `system:serviceaccount:NS:NAME` (kubeconfig `as:`), so the
 * API server's RBAC authorizer decides every one of them.
 */
import {
  CoreV1Api,
  RbacAuthorizationV1Api,
  type KubeConfig,
  type V1PolicyRule,
} from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterEach, beforeAll } from 'vitest';
import type { OperatorHandle } from '../../src/operator/run.js';
import { REPLICAS_CONFIGMAP } from '../../src/operator/stream/summary.js';
import { REPO_ROOT } from './harness/control-plane.js';
import { freshNamespace, loadKubeConfig } from './harness/namespace.js';
import { suffix } from './operator-support.js';

const FILES = join(REPO_ROOT, 'charts/tokenwarden/files');
export const clusterRules = parse(
  readFileSync(join(FILES, 'clusterrole-rules.yaml'), 'utf8'),
) as V1PolicyRule[];
export const leaseRules = parse(readFileSync(join(FILES, 'lease-role-rules.yaml'), 'utf8')) as V1PolicyRule[];

export interface RbacWorld {
  admin: KubeConfig;
  /** The operator a case started; stopped after the case. */
  operator: OperatorHandle | undefined;
}

/** Registers the calling file's hooks; `admin` is set once beforeAll has run. */
export function useRbacWorld(): RbacWorld {
  const world: RbacWorld = { admin: undefined as unknown as KubeConfig, operator: undefined };
  beforeAll(() => {
    world.admin = loadKubeConfig();
  });
  afterEach(async () => {
    await world.operator?.stop();
    world.operator = undefined;
  });
  return world;
}

/** A ServiceAccount bound to `rules` cluster-wide and to the lease rules in its namespace. */
export async function serviceAccountWith(
  admin: KubeConfig,
  rules: V1PolicyRule[],
): Promise<{ ns: string; user: string }> {
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

/** 200 when the request went through, else the API server's status code (403 under RBAC). */
export const statusOf = (p: Promise<unknown>): Promise<number | undefined> =>
  p.then(
    () => 200,
    (e: unknown) => (e as { code?: number }).code,
  );
