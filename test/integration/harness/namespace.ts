/**
 * Per-test namespaces. Without a controller-manager a deleted namespace stays Terminating
 * forever, so nothing here waits for deletion: each test takes a fresh namespace and the
 * throwaway control plane disappears with everything in it.
 */
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';

/** The admin KubeConfig of the test cluster started by global-setup.ts. */
export function loadKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(inject('kubeconfigPath'));
  return kc;
}

export const TEST_NAMESPACE_LABEL = 'tokenwarden.dev/test';

/** Creates a namespace named `<prefix>-<random>` and returns its name. */
export async function freshNamespace(kc: KubeConfig, prefix = 'tw'): Promise<string> {
  const clean =
    prefix
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 50) || 'tw';
  const name = `${clean}-${randomBytes(4).toString('hex')}`;
  await kc.makeApiClient(CoreV1Api).createNamespace({
    body: { metadata: { name, labels: { [TEST_NAMESPACE_LABEL]: 'true' } } },
  });
  return name;
}

/**
 * Sends the DELETE and returns without waiting for the namespace to go (on the test control plane
 * it never does). Useful against an existing cluster, where a controller-manager cleans up.
 */
export async function deleteNamespace(kc: KubeConfig, name: string): Promise<void> {
  await kc
    .makeApiClient(CoreV1Api)
    .deleteNamespace({ name })
    .catch(() => undefined);
}
