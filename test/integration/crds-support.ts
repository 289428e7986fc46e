/**
 * What the CRD tests share: the manifests they send (test/support/manifests.ts, with real keys
 * inline), a client of the harness's kube-apiserver, and readers of its refusals and tables.
 */
import {
  ApiException,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
} from '@kubernetes/client-node';
import { beforeAll, expect } from 'vitest';
import { publicJwkOf } from '../support/keys.js';
import { fullPolicy, fullRevocation } from '../support/manifests.js';
import { loadKubeConfig } from './harness/namespace.js';
import { kubeRequest } from './harness/raw.js';

export const group = 'tokenwarden.dev';
export const version = 'v1alpha1';
// Manifests are plain JSON that the cases mutate freely; the API server is the type checker here.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Obj = Record<string, any>;

const ecKey = { ...publicJwkOf('ec'), kid: 'ec-1', use: 'sig', alg: 'ES256' };
const rsaKey = { ...publicJwkOf('rsa'), kid: 'rsa-1' };
const edKey = { ...publicJwkOf('ed25519'), kid: 'ed-1', key_ops: ['verify'] };

/** The README's example, plus every key source and every optional field. */
export function goodPolicy(name = 'orders-api'): Obj {
  return fullPolicy(name, [ecKey, rsaKey, edKey]) as Obj;
}

export function goodRevocation(name = 'leaked-ci-token'): Obj {
  return fullRevocation(name) as Obj;
}

export interface CrdApi {
  kc: KubeConfig;
  api: CustomObjectsApi;
  create(namespace: string, plural: string, body: Obj): Promise<Obj>;
}

/** A client of the harness's API server, made before the file's first case. */
export function useCrdApi(): CrdApi {
  const crd = {
    create: (namespace: string, plural: string, body: Obj): Promise<Obj> =>
      crd.api.createNamespacedCustomObject({ group, version, namespace, plural, body }) as Promise<Obj>,
  } as CrdApi;
  beforeAll(() => {
    crd.kc = loadKubeConfig();
    crd.api = crd.kc.makeApiClient(CustomObjectsApi);
  });
  return crd;
}

/** A manifest the CRDs must refuse: one mutation of a good manifest (crds-bad-*.ts). */
export interface BadCase {
  name: string;
  kind: 'policy' | 'revocation';
  mutate: (spec: Obj) => void;
  /** Field path that the API server's message must name. */
  field: string;
}

export interface Refusal {
  code: number;
  message: string;
  fields: string[];
}

export async function refusal(p: Promise<unknown>): Promise<Refusal> {
  try {
    await p;
  } catch (err) {
    if (!(err instanceof ApiException)) throw err;
    const body = (typeof err.body === 'string' ? JSON.parse(err.body) : err.body) as {
      message?: string;
      details?: { causes?: { field?: string }[] };
    };
    return {
      code: err.code,
      message: body.message ?? '',
      fields: (body.details?.causes ?? []).map((c) => c.field ?? ''),
    };
  }
  throw new Error('expected the API server to refuse the object, but it was accepted');
}

/** GET with `Accept: as=Table`, so the server renders the CRD's printer columns as kubectl would. */
export async function getTable(
  kc: KubeConfig,
  path: string,
): Promise<{ columns: string[]; rows: unknown[][] }> {
  const res = await kubeRequest(kc, { path, accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' });
  expect(res.status, res.body).toBe(200);
  const table = res.json<{ columnDefinitions: { name: string }[]; rows: { cells: unknown[] }[] }>();
  return { columns: table.columnDefinitions.map((c) => c.name), rows: table.rows.map((r) => r.cells) };
}

export const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
