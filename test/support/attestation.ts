/**
 * A real signer for tests of the operator's proofs (src/distribution/attestation.ts): a CA and
 * a serving certificate from the integration PKI (openssl, ECDSA P-256), the proof of a config
 * made exactly as the operator makes it.
 */
import { createPrivateKey } from 'node:crypto';
import {
  chainOf,
  certificatesOf,
  signAttestation,
  type Proof,
  type Trust,
} from '../../src/distribution/attestation.js';
import type { PolicyBundle } from '../../src/distribution/protocol.js';
import { policyKeyOf } from '../../src/distribution/snapshot.js';
import { contentVersion } from '../../src/distribution/version.js';
import { createCertificateAuthority, issueServingCertFrom } from '../integration/harness/pki.js';

export interface TestSigner {
  readonly caPem: string;
  readonly certPem: string;
  readonly keyPem: string;
  readonly trust: Trust;
  /** The proof of `version` (default: the config's content hash) of the config's policy. */
  proof(config: PolicyBundle, version?: string, at?: Date): Proof;
}

export function signerFrom(
  tls: { caPem: string; certPem: string; keyPem: string },
  host = '127.0.0.1',
): TestSigner {
  const key = createPrivateKey(tls.keyPem);
  const chain = chainOf(tls.certPem);
  return {
    ...tls,
    trust: { anchors: certificatesOf(tls.caPem), host },
    proof: (config, version = contentVersion(config), at = new Date()) =>
      signAttestation(key, chain, { policy: policyKeyOf(config), version }, at),
  };
}

export async function makeSigner(
  host = '127.0.0.1',
  caName = 'tokenwarden-attest-test-ca',
): Promise<TestSigner> {
  const ca = await createCertificateAuthority(caName);
  const leaf = await issueServingCertFrom(ca, [host, 'localhost']);
  return signerFrom({ caPem: ca.certPem, certPem: leaf.certPem, keyPem: leaf.keyPem }, host);
}
