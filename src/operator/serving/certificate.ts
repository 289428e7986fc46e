/**
 * The operator's own PKI: a CA and a serving certificate for its Service's DNS names, and the
 * pure decision "is the certificate in the Secret still good enough?" (`now` passed in).
 *
 * Issuance uses node-forge (ADR 0005: node:crypto makes keys but cannot sign X.509
 * certificates; forge is dependency-free and needs no global reflect polyfill). Keys are RSA
 * 2048 made by node:crypto (native, ~100 ms) and handed to forge only to sign. Inspection uses
 * node:crypto's X509Certificate.
 */
import { X509Certificate, createPrivateKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';

/** What a TLS Secret of type kubernetes.io/tls holds (decoded). `ca.key` only when we made the CA. */
export interface ServingMaterial {
  readonly certPem: string;
  readonly keyPem: string;
  readonly caPem: string;
  readonly caKeyPem?: string;
}

export interface CertificateRequest {
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
}

export const RENEW_BEFORE_MS = 30 * 24 * 3600_000;
export const SERVING_VALIDITY_MS = 365 * 24 * 3600_000;
export const CA_VALIDITY_MS = 10 * 365 * 24 * 3600_000;
/** Backdated so a peer whose clock is a little behind accepts a certificate made just now. */
const BACKDATE_MS = 5 * 60_000;

/** The names the operator's Service answers to, then any extras. */
export function servingDnsNames(namespace: string, service: string, extras: readonly string[]): string[] {
  const names = [`${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`, service];
  for (const n of extras) if (!names.includes(n)) names.push(n);
  return names;
}

export type CertificateDecision =
  | { readonly action: 'keep'; readonly notAfter: number }
  | {
      readonly action: 'issue';
      readonly reason: 'missing' | 'unparseable' | 'expiring' | 'names' | 'mismatch';
      readonly message: string;
    };

/** Parsed view of a certificate, or undefined when the PEM is not one. */
function parse(pem: string | undefined): X509Certificate | undefined {
  if (pem === undefined || pem === '') return undefined;
  try {
    return new X509Certificate(pem);
  } catch {
    return undefined;
  }
}

function sans(cert: X509Certificate): { dns: Set<string>; ip: Set<string> } {
  const dns = new Set<string>();
  const ip = new Set<string>();
  for (const part of (cert.subjectAltName ?? '').split(/,\s*/)) {
    if (part.startsWith('DNS:')) dns.add(part.slice(4));
    else if (part.startsWith('IP Address:')) ip.add(part.slice(11));
  }
  return { dns, ip };
}

/**
 * Keep the Secret's certificate, or issue a new one (and why). A new one is issued when the
 * Secret has none, it does not parse, its key does not match, it or its CA expires within 30
 * days, or it misses a wanted name. Pure: `now` in epoch milliseconds.
 */
export function decideCertificate(
  current: Partial<ServingMaterial> | undefined,
  want: CertificateRequest,
  now: number,
): CertificateDecision {
  if (current?.certPem === undefined || current.keyPem === undefined || current.certPem === '')
    return { action: 'issue', reason: 'missing', message: 'no serving certificate yet' };
  const cert = parse(current.certPem);
  const ca = parse(current.caPem);
  if (cert === undefined || ca === undefined)
    return { action: 'issue', reason: 'unparseable', message: 'tls.crt or ca.crt is not a PEM certificate' };
  try {
    if (!cert.checkPrivateKey(createPrivateKey(current.keyPem)))
      return { action: 'issue', reason: 'mismatch', message: 'tls.key does not match tls.crt' };
    if (!cert.verify(ca.publicKey))
      return { action: 'issue', reason: 'mismatch', message: 'tls.crt is not signed by ca.crt' };
  } catch {
    return { action: 'issue', reason: 'unparseable', message: 'tls.key is not a PEM private key' };
  }
  const notAfter = Math.min(Date.parse(cert.validTo), Date.parse(ca.validTo));
  if (!(notAfter - now > RENEW_BEFORE_MS))
    return {
      action: 'issue',
      reason: 'expiring',
      message: `expires ${new Date(notAfter).toISOString()}, within 30 days`,
    };
  const have = sans(cert);
  const missing = [
    ...want.dnsNames.filter((n) => !have.dns.has(n)),
    ...want.ipAddresses.filter((n) => !have.ip.has(n)),
  ];
  if (missing.length > 0)
    return { action: 'issue', reason: 'names', message: `does not cover ${missing.join(', ')}` };
  return { action: 'keep', notAfter };
}

function rsaKeyPair(): { keyPem: string; publicKey: forge.pki.PublicKey; privateKey: forge.pki.PrivateKey } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  return {
    keyPem,
    privateKey: forge.pki.privateKeyFromPem(keyPem),
    publicKey: forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString()),
  };
}

function serial(): string {
  // Positive (high bit clear), 16 bytes: RFC 5280 wants it unique and at most 20 octets.
  const b = randomBytes(16);
  b[0] = (b[0] ?? 0) & 0x7f;
  return b.toString('hex');
}

/**
 * A CA usable to sign a serving certificate living until `until`: the current one when its key
 * is known and it outlives `until`, else a new one. Reusing it keeps every sidecar's pinned CA
 * valid across a serving-certificate renewal.
 */
function caFor(current: Partial<ServingMaterial> | undefined, until: number, now: number) {
  const ca = parse(current?.caPem);
  if (
    ca !== undefined &&
    current?.caKeyPem !== undefined &&
    Date.parse(ca.validTo) > until + RENEW_BEFORE_MS
  ) {
    try {
      if (ca.checkPrivateKey(createPrivateKey(current.caKeyPem)))
        return {
          certPem: current.caPem as string,
          keyPem: current.caKeyPem,
          cert: forge.pki.certificateFromPem(current.caPem as string),
          key: forge.pki.privateKeyFromPem(current.caKeyPem),
        };
    } catch {
      // fall through: a new CA
    }
  }
  const pair = rsaKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = pair.publicKey;
  cert.serialNumber = serial();
  cert.validity.notBefore = new Date(now - BACKDATE_MS);
  cert.validity.notAfter = new Date(now + CA_VALIDITY_MS);
  const subject = [{ name: 'commonName', value: 'tokenwarden-ca' }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true, pathLenConstraint: 0 },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(pair.privateKey as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: pair.keyPem, cert, key: pair.privateKey };
}

/** A serving certificate for `want`, signed by the current CA when it can be reused, else a new CA. */
export function issueServingCertificate(
  want: CertificateRequest,
  now: number,
  current?: Partial<ServingMaterial>,
): ServingMaterial {
  const notAfter = now + SERVING_VALIDITY_MS;
  const ca = caFor(current, notAfter, now);
  const pair = rsaKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = pair.publicKey;
  cert.serialNumber = serial();
  cert.validity.notBefore = new Date(now - BACKDATE_MS);
  cert.validity.notAfter = new Date(notAfter);
  cert.setSubject([{ name: 'commonName', value: want.dnsNames[0] ?? 'tokenwarden' }]);
  cert.setIssuer(ca.cert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: [
        ...want.dnsNames.map((value) => ({ type: 2, value })),
        ...want.ipAddresses.map((ip) => ({ type: 7, ip })),
      ],
    },
    { name: 'authorityKeyIdentifier', keyIdentifier: ca.cert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(ca.key as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
  return {
    certPem: forge.pki.certificateToPem(cert),
    keyPem: pair.keyPem,
    caPem: ca.certPem,
    caKeyPem: ca.keyPem,
  };
}
