/**
 * Loading the kubeconfig for `tokenwarden operator` and `tokenwarden revoke`: a given file, or
 * client-node's default chain ($KUBECONFIG, ~/.kube/config, the pod's service account). When
 * that chain finds nothing, client-node silently falls back to http://localhost:8080; we say
 * so instead, since no cluster ever answers there.
 */
import { KeptAliveKubeConfig } from '../operator/runtime/kept-alive.js';

export class KubeconfigError extends Error {
  override readonly name = 'KubeconfigError';
}

const FALLBACK_SERVER = 'http://localhost:8080';

export function loadKubeconfig(file: string | undefined): KeptAliveKubeConfig {
  // Kept-alive connections to the API server (kept-alive.ts), for the operator and the CLI alike.
  const kc = new KeptAliveKubeConfig();
  const where = file ?? 'the default kubeconfig';
  try {
    if (file === undefined) kc.loadFromDefault();
    else kc.loadFromFile(file);
  } catch (err) {
    throw new KubeconfigError(`cannot load ${where}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const cluster = kc.getCurrentCluster();
  if (cluster === null)
    throw new KubeconfigError(`${where} names no current cluster: set a context or pass --kubeconfig FILE`);
  if (file === undefined && cluster.server === FALLBACK_SERVER && kc.getCurrentUser()?.name === 'user') {
    throw new KubeconfigError(
      'no kubeconfig found ($KUBECONFIG, ~/.kube/config) and not running in a pod: pass --kubeconfig FILE',
    );
  }
  return kc;
}
