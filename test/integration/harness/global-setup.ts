/**
 * vitest globalSetup of the integration project: one control plane for the whole run, with the
 * CRDs of crds/ installed. Test files reach it through `inject(...)` (see provided-context.d.ts)
 * or the helpers in namespace.ts and certs.ts.
 */
import type { TestProject } from 'vitest/node';
import { startControlPlane } from './control-plane.js';
import { applyCrds } from './crds.js';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const cp = await startControlPlane();
  try {
    const started = Date.now();
    const names = await applyCrds(cp.kubeConfig);
    process.stderr.write(
      `[control-plane] CRDs established in ${Date.now() - started} ms: ${names.join(', ')}\n`,
    );
  } catch (err) {
    await cp.stop();
    throw err;
  }
  project.provide('kubeconfigPath', cp.kubeconfigPath);
  project.provide('kubeServer', cp.server);
  project.provide('testCa', cp.ca);
  project.provide('testbinDir', cp.binDir);
  project.provide('existingCluster', cp.existingCluster);
  return () => cp.stop();
}
