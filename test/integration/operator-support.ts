/**
 * Helpers shared by the operator integration tests: run the operator in-process or as the real
 * CLI, create objects, read the state of the world back, and wait for it to converge.
 */
import { CoreV1Api, CustomObjectsApi, KubeConfig, type CoreV1Event } from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JWK } from 'jose';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { loadOperatorConfig, type OperatorFlags } from '../../src/config/operator.js';
import { runOperator, type OperatorHandle } from '../../src/operator/run.js';
import { waitForValue } from '../support/wait.js';
import { REPO_ROOT } from './harness/control-plane.js';

export { publicJwk } from '../support/keys.js';
export { sleep } from '../support/wait.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Obj = Record<string, any>;

export const GROUP = { group: 'tokenwarden.dev', version: 'v1alpha1' } as const;
export const POLICIES = { ...GROUP, plural: 'tokenpolicies' } as const;
export const REVOCATIONS = { ...GROUP, plural: 'tokenrevocations' } as const;

/** The built CLI; TOKENWARDEN_CLI points elsewhere when dist/ cannot be built as a whole. */
export const CLI = process.env.TOKENWARDEN_CLI ?? join(REPO_ROOT, 'dist/cmd/tokenwarden.js');

export function suffix(): string {
  return randomBytes(3).toString('hex');
}

/** An in-process operator with its own lease (so operators of other tests never share one). */
export async function startOperator(
  kc: KubeConfig,
  leaseNamespace: string,
  flags: OperatorFlags = {},
  registry = new Registry(),
): Promise<OperatorHandle> {
  const cfg = loadOperatorConfig(
    {
      'metrics-listen': '127.0.0.1:0',
      serve: '127.0.0.1:0',
      'serving-ip': ['127.0.0.1'],
      namespace: leaseNamespace,
      'lease-namespace': leaseNamespace,
      'lease-name': `tw-test-${suffix()}`,
      'lease-duration': '3',
      resync: '2',
      'shutdown-timeout': '5',
      ...flags,
    },
    {},
  );
  const log = pino({ level: process.env.TOKENWARDEN_TEST_LOG ?? 'silent' });
  return runOperator(cfg, { kc, log, registry });
}

/** waitFor of test/support/wait.ts with the cluster's bounds: 20 s by default, asked every 100 ms. */
export function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 20_000,
): Promise<T> {
  return waitForValue(what, probe, timeoutMs, 100);
}

export function policyBody(
  name: string,
  issuer: Obj,
  selector: Obj = { matchLabels: { app: 'orders' } },
): Obj {
  return {
    apiVersion: 'tokenwarden.dev/v1alpha1',
    kind: 'TokenPolicy',
    metadata: { name },
    spec: { selector, targetPort: 8080, issuers: [{ audiences: ['orders-api'], ...issuer }] },
  };
}

/** An issuer of policyBody with its one key inline: no JWKS to fetch. */
export function inlineIssuer(jwk: JWK, issuer = 'https://a.example/'): Obj {
  return { issuer, jwks: { keys: [jwk] } };
}

export function revocationBody(name: string, spec: Obj): Obj {
  return { apiVersion: 'tokenwarden.dev/v1alpha1', kind: 'TokenRevocation', metadata: { name }, spec };
}

export function custom(kc: KubeConfig): CustomObjectsApi {
  return kc.makeApiClient(CustomObjectsApi);
}

export async function createPolicy(kc: KubeConfig, namespace: string, body: Obj): Promise<Obj> {
  return (await custom(kc).createNamespacedCustomObject({ ...POLICIES, namespace, body })) as Obj;
}

export async function createRevocation(kc: KubeConfig, namespace: string, body: Obj): Promise<Obj> {
  return (await custom(kc).createNamespacedCustomObject({ ...REVOCATIONS, namespace, body })) as Obj;
}

export async function getPolicy(kc: KubeConfig, namespace: string, name: string): Promise<Obj> {
  return (await custom(kc).getNamespacedCustomObject({ ...POLICIES, namespace, name })) as Obj;
}

export function readyOf(obj: Obj): Obj {
  const conditions = (obj?.status?.conditions ?? []) as Obj[];
  return conditions.find((c) => c.type === 'Ready') ?? {};
}

/** Waits until the policy's status satisfies `pred` and returns the policy. */
export function waitForPolicy(
  kc: KubeConfig,
  namespace: string,
  name: string,
  what: string,
  pred: (p: Obj) => boolean,
  timeoutMs?: number,
): Promise<Obj> {
  return waitFor(
    `${namespace}/${name}: ${what}`,
    async () => {
      const p = await getPolicy(kc, namespace, name);
      return pred(p) ? p : undefined;
    },
    timeoutMs,
  );
}

export async function eventsFor(kc: KubeConfig, namespace: string, name: string): Promise<CoreV1Event[]> {
  const list = await kc.makeApiClient(CoreV1Api).listNamespacedEvent({
    namespace,
    fieldSelector: `involvedObject.name=${name}`,
  });
  return list.items;
}

export async function createPod(
  kc: KubeConfig,
  namespace: string,
  name: string,
  labels: Record<string, string>,
): Promise<void> {
  await kc.makeApiClient(CoreV1Api).createNamespacedPod({
    namespace,
    body: {
      metadata: { name, labels },
      spec: { containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.10' }] },
    },
  });
}

/** A JWKS server on 127.0.0.1, port 0: a stand-in identity provider. */
export async function startJwksServer(jwk: JWK): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    if (req.url !== '/jwks') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/jwks`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A copy of the admin kubeconfig whose requests impersonate `user` (kubeconfig `as:`). */
export function impersonating(admin: KubeConfig, user: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(writeKubeconfig(admin, user, true));
  return kc;
}

/** Writes a kubeconfig file (optionally impersonating `user`) and returns its path or text. */
export function writeKubeconfig(admin: KubeConfig, user: string | undefined, asText = false): string {
  const cfg: Obj = JSON.parse(admin.exportConfig());
  const current = cfg['current-context'];
  const ctx = cfg.contexts.find((c: Obj) => c.name === current);
  const u = cfg.users.find((x: Obj) => x.name === ctx.context.user);
  if (user !== undefined) u.user.as = user;
  const text = JSON.stringify(cfg);
  if (asText) return text;
  const dir = mkdtempSync(join(tmpdir(), 'tw-kubeconfig-'));
  const path = join(dir, 'kubeconfig');
  writeFileSync(path, text, { mode: 0o600 });
  return path;
}

/** Reads a counter or gauge sample from a registry. */
export async function metricValue(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) return 0;
  const { values } = await metric.get();
  const hit = values.find((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want));
  return hit?.value ?? 0;
}
