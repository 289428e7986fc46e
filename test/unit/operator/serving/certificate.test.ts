import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  RENEW_BEFORE_MS,
  SERVING_VALIDITY_MS,
  decideCertificate,
  issueServingCertificate,
  servingDnsNames,
} from '../../../../src/operator/serving/certificate.js';

const NOW = Date.parse('2026-12-02T12:00:00Z');
const want = { dnsNames: servingDnsNames('ops', 'tokenwarden', []), ipAddresses: ['127.0.0.1'] };
const issued = issueServingCertificate(want, NOW);

describe('servingDnsNames', () => {
  it('names the Service in its namespace, short and long, then the extras once', () => {
    expect(servingDnsNames('ops', 'tw', ['tw', 'tw.example.com'])).toEqual([
      'tw.ops.svc',
      'tw.ops.svc.cluster.local',
      'tw',
      'tw.example.com',
    ]);
  });
});

describe('issueServingCertificate', () => {
  it('signs a serving certificate for every name with a fresh CA', () => {
    const cert = new X509Certificate(issued.certPem);
    const ca = new X509Certificate(issued.caPem);
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.subjectAltName).toContain('DNS:tokenwarden.ops.svc.cluster.local');
    expect(cert.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(ca.ca).toBe(true);
    expect(cert.ca).toBe(false);
    expect(Date.parse(cert.validTo)).toBeGreaterThan(NOW + SERVING_VALIDITY_MS - 60_000);
  });

  it('keeps the CA on renewal, so sidecars that pinned it keep trusting the operator', () => {
    const renewed = issueServingCertificate(want, NOW + 300 * 24 * 3600_000, issued);
    expect(renewed.caPem).toBe(issued.caPem);
    expect(renewed.certPem).not.toBe(issued.certPem);
    expect(new X509Certificate(renewed.certPem).verify(new X509Certificate(issued.caPem).publicKey)).toBe(
      true,
    );
  });

  it('makes a new CA when the old CA key is unknown (cert-manager left it, say)', () => {
    const { caKeyPem: _drop, ...withoutKey } = issued;
    expect(issueServingCertificate(want, NOW, withoutKey).caPem).not.toBe(issued.caPem);
  });
});

describe('decideCertificate', () => {
  const other = issueServingCertificate(want, NOW);
  const cases = [
    { name: 'no Secret: issue', current: undefined, now: NOW, want, action: 'issue', reason: 'missing' },
    { name: 'a fresh certificate: keep', current: issued, now: NOW, want, action: 'keep' },
    {
      name: 'expiring within 30 days: issue',
      current: issued,
      now: NOW + SERVING_VALIDITY_MS - RENEW_BEFORE_MS + 1000,
      want,
      action: 'issue',
      reason: 'expiring',
    },
    {
      name: 'a name is missing: issue',
      current: issued,
      now: NOW,
      want: { ...want, dnsNames: [...want.dnsNames, 'extra.example.com'] },
      action: 'issue',
      reason: 'names',
    },
    {
      name: 'key of another certificate: issue',
      current: { ...issued, keyPem: other.keyPem },
      now: NOW,
      want,
      action: 'issue',
      reason: 'mismatch',
    },
    {
      name: 'signed by another CA: issue',
      current: { ...issued, caPem: other.caPem },
      now: NOW,
      want,
      action: 'issue',
      reason: 'mismatch',
    },
    {
      name: 'garbage in tls.crt: issue',
      current: { ...issued, certPem: 'not a certificate' },
      now: NOW,
      want,
      action: 'issue',
      reason: 'unparseable',
    },
  ] as const;
  it.each(cases)('$name', (c) => {
    const d = decideCertificate(c.current, c.want, c.now);
    expect(d.action).toBe(c.action);
    if (d.action === 'issue' && 'reason' in c) expect(d.reason).toBe(c.reason);
  });
});
