/** Certificates for test servers (webhooks, the distribution stream), signed by the test CA. */
import { inject } from 'vitest';
import { issueServingCertFrom, type CertificateAuthority, type IssuedCert } from './pki.js';

export type { IssuedCert } from './pki.js';

/** The test CA handed over by global-setup.ts. */
export function testCa(): CertificateAuthority {
  return inject('testCa');
}

/**
 * A serving certificate for `hosts` (DNS names or IPs, e.g. ['127.0.0.1']) signed by the test CA;
 * give `caPem` as a webhook's `clientConfig.caBundle` (base64).
 */
export function issueServingCert(hosts: string[]): Promise<IssuedCert> {
  return issueServingCertFrom(testCa(), hosts);
}
