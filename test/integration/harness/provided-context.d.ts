import type { CertificateAuthority } from './pki.js';

// Values the integration global setup hands to test files: `inject('kubeconfigPath')`.
declare module 'vitest' {
  export interface ProvidedContext {
    /** Admin kubeconfig of the test cluster. */
    kubeconfigPath: string;
    /** API server URL. */
    kubeServer: string;
    /** CA for webhook serving certificates (see certs.ts `issueServingCert`). */
    testCa: CertificateAuthority;
    /** Directory with etcd, kube-apiserver and helm; '' when an existing cluster is used. */
    testbinDir: string;
    /** True when TOKENWARDEN_USE_EXISTING_CLUSTER=1 (a kind cluster, say). */
    existingCluster: boolean;
  }
}
