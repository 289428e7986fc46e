/**
 * Installs the CRDs of crds/ with server-side apply (so a re-run against an existing cluster
 * updates them) and waits until they are Established and actually served.
 */
import {
  ApiextensionsV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT } from './control-plane.js';
import { kubeRequest } from './raw.js';

export const CRD_DIR = join(REPO_ROOT, 'crds');
const FIELD_MANAGER = 'tokenwarden-tests';

export async function readCrds(dir = CRD_DIR): Promise<V1CustomResourceDefinition[]> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.yaml')).sort();
  const crds: V1CustomResourceDefinition[] = [];
  for (const name of names) {
    for (const doc of parseAllDocuments(await readFile(join(dir, name), 'utf8'))) {
      if (doc.errors.length > 0) throw new Error(`${name}: ${doc.errors[0]!.message}`);
      const obj = doc.toJS() as V1CustomResourceDefinition | null;
      if (obj) crds.push(obj);
    }
  }
  return crds;
}

export async function applyCrds(kc: KubeConfig, dir = CRD_DIR, timeoutMs = 60_000): Promise<string[]> {
  const crds = await readCrds(dir);
  for (const crd of crds) {
    // Raw server-side apply: the typed client would drop enums, defaults and CEL rules (raw.ts).
    const name = crd.metadata!.name!;
    const res = await kubeRequest(kc, {
      method: 'PATCH',
      path: `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}?fieldManager=${FIELD_MANAGER}&force=true`,
      contentType: 'application/apply-patch+yaml',
      body: crd,
    });
    // A refused CRD (bad schema, CEL cost over budget) explains itself in the body.
    if (res.status >= 300) throw new Error(`applying CRD ${name} failed: ${res.status} ${res.body}`);
  }
  const ext = kc.makeApiClient(ApiextensionsV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const deadline = Date.now() + timeoutMs;
  for (const crd of crds) {
    const name = crd.metadata!.name!;
    const version = crd.spec.versions.find((v) => v.served)!.name;
    for (;;) {
      const current = await ext.readCustomResourceDefinition({ name });
      const established = current.status?.conditions?.some(
        (c) => c.type === 'Established' && c.status === 'True',
      );
      // Established can precede the first successful list by a moment; wait for both.
      const served =
        established &&
        (await custom
          .listCustomObjectForAllNamespaces({ group: crd.spec.group, version, plural: crd.spec.names.plural })
          .then(
            () => true,
            () => false,
          ));
      if (served) break;
      if (Date.now() > deadline) {
        throw new Error(
          `CRD ${name} not established after ${timeoutMs} ms: ${JSON.stringify(current.status)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return crds.map((c) => c.metadata!.name!);
}
