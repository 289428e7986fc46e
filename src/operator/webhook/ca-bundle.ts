/**
 * Keeps the MutatingWebhookConfiguration's `clientConfig.caBundle` equal to the CA that signs the
 * operator's serving certificate. Called by the operator when its certificate changes, and on
 * resync (a caBundle someone reset is put back). Any replica may call it: the write is a JSON
 * Patch guarded by a `test` of the resourceVersion it was computed from, so two replicas racing
 * cannot interleave, and a replica that loses the race reads again and finds nothing to do.
 */
import {
  AdmissionregistrationV1Api,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type V1MutatingWebhookConfiguration,
} from '@kubernetes/client-node';
import { apiStatus } from '../runtime/k8s.js';

export type CaBundleSync = 'updated' | 'unchanged' | 'not_found';

const JSON_PATCH = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);
const MAX_ATTEMPTS = 5;

/** The patch that sets every webhook's caBundle to `caBase64`, or none when all already match. */
function caBundlePatch(
  config: V1MutatingWebhookConfiguration,
  caBase64: string,
): { op: string; path: string; value?: string }[] {
  const ops = (config.webhooks ?? []).flatMap((w, i) =>
    w.clientConfig.caBundle === caBase64
      ? []
      : [{ op: 'add', path: `/webhooks/${i}/clientConfig/caBundle`, value: caBase64 }],
  );
  if (ops.length === 0) return [];
  // Index paths are only right for the list as read: refuse the patch if it moved since.
  return [{ op: 'test', path: '/metadata/resourceVersion', value: config.metadata?.resourceVersion }, ...ops];
}

export async function syncCaBundle(kc: KubeConfig, name: string, caPem: string): Promise<CaBundleSync> {
  const api = kc.makeApiClient(AdmissionregistrationV1Api);
  const caBase64 = Buffer.from(caPem).toString('base64');
  for (let attempt = 1; ; attempt++) {
    let config: V1MutatingWebhookConfiguration;
    try {
      config = await api.readMutatingWebhookConfiguration({ name });
    } catch (err) {
      // Not installed (webhook.enabled=false, or a test without one): nothing to keep in step.
      if (apiStatus(err) === 404) return 'not_found';
      throw err;
    }
    const patch = caBundlePatch(config, caBase64);
    if (patch.length === 0) return 'unchanged';
    try {
      await api.patchMutatingWebhookConfiguration({ name, body: patch }, JSON_PATCH);
      return 'updated';
    } catch (err) {
      // 422 from a failed `test` (or 409): another writer moved it; read again.
      const status = apiStatus(err);
      if ((status === 422 || status === 409) && attempt < MAX_ATTEMPTS) continue;
      throw err;
    }
  }
}
