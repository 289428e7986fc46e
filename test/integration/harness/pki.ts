/**
 * A throwaway PKI for the test control plane and for webhook serving certificates, made with the
 * openssl CLI (node:crypto makes keys but cannot issue X.509 certificates). Keys are ECDSA P-256;
 * certificates live two days. Nothing here reads vitest state, so the global setup can use it.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface CertificateAuthority {
  certPem: string;
  keyPem: string;
}

export interface IssuedCert {
  certPem: string;
  keyPem: string;
  /** The CA that signed certPem: what a client (or a webhook's caBundle) must trust. */
  caPem: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await run('openssl', args, { cwd });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT')
      throw new Error('openssl not found on PATH: install it (Debian: apt-get install openssl)');
    throw new Error(`openssl ${args[0] ?? ''} failed: ${e.stderr ?? e.message}`);
  }
}

async function inTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'tokenwarden-pki-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const KEY_ARGS = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

export async function createCertificateAuthority(
  commonName = 'tokenwarden-test-ca',
): Promise<CertificateAuthority> {
  return inTempDir(async (dir) => {
    await openssl(
      [
        'req',
        '-x509',
        ...KEY_ARGS,
        '-keyout',
        'ca.key',
        '-out',
        'ca.crt',
        '-days',
        '2',
        '-subj',
        `/CN=${commonName}`,
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
        '-addext',
        'subjectKeyIdentifier=hash',
      ],
      dir,
    );
    return {
      certPem: await readFile(join(dir, 'ca.crt'), 'utf8'),
      keyPem: await readFile(join(dir, 'ca.key'), 'utf8'),
    };
  });
}

interface LeafOptions {
  commonName: string;
  organization?: string;
  /** DNS names and IP addresses; IPs become IP SANs. */
  hosts?: string[];
  usage: 'serverAuth' | 'clientAuth';
}

async function issue(ca: CertificateAuthority, opts: LeafOptions): Promise<IssuedCert> {
  return inTempDir(async (dir) => {
    await writeFile(join(dir, 'ca.crt'), ca.certPem);
    await writeFile(join(dir, 'ca.key'), ca.keyPem, { mode: 0o600 });
    const subject = `/CN=${opts.commonName}${opts.organization ? `/O=${opts.organization}` : ''}`;
    await openssl(
      ['req', '-new', ...KEY_ARGS, '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', subject],
      dir,
    );
    const ext = [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      `extendedKeyUsage=${opts.usage}`,
      'authorityKeyIdentifier=keyid',
    ];
    const hosts = opts.hosts ?? [];
    if (hosts.length > 0) {
      ext.push(`subjectAltName=${hosts.map((h) => (isIP(h) ? `IP:${h}` : `DNS:${h}`)).join(',')}`);
    }
    await writeFile(join(dir, 'leaf.ext'), `${ext.join('\n')}\n`);
    await openssl(
      [
        'x509',
        '-req',
        '-in',
        'leaf.csr',
        '-CA',
        'ca.crt',
        '-CAkey',
        'ca.key',
        '-set_serial',
        `0x${randomBytes(16).toString('hex')}`,
        '-days',
        '2',
        '-extfile',
        'leaf.ext',
        '-out',
        'leaf.crt',
      ],
      dir,
    );
    return {
      certPem: await readFile(join(dir, 'leaf.crt'), 'utf8'),
      keyPem: await readFile(join(dir, 'leaf.key'), 'utf8'),
      caPem: ca.certPem,
    };
  });
}

/** A TLS serving certificate for `hosts` (DNS names or IPs, e.g. ['127.0.0.1', 'localhost']). */
export function issueServingCertFrom(ca: CertificateAuthority, hosts: string[]): Promise<IssuedCert> {
  if (hosts.length === 0) throw new Error('issueServingCert: at least one host is required');
  return issue(ca, { commonName: hosts[0]!, hosts, usage: 'serverAuth' });
}

/** A TLS client certificate; Kubernetes reads CN as the user name and O as the groups. */
export function issueClientCertFrom(
  ca: CertificateAuthority,
  commonName: string,
  organization?: string,
): Promise<IssuedCert> {
  return issue(ca, { commonName, ...(organization ? { organization } : {}), usage: 'clientAuth' });
}
