/**
 * A real kube-apiserver + etcd on 127.0.0.1 for the integration tests (what envtest does for Go
 * operators). No kubelet, scheduler or controller-manager: Pods stay Pending, namespaces never
 * finish deleting, nothing garbage-collects.
 *
 * Binaries come from hack/k8s-testbin/build.sh (built from the Go module proxy, cached by
 * version): TOKENWARDEN_TESTBIN_DIR names their directory, otherwise the script is run (it returns
 * at once when they are cached).
 *
 * Existing cluster: TOKENWARDEN_USE_EXISTING_CLUSTER=1 uses the current context of KUBECONFIG (or
 * ~/.kube/config), e.g. a kind cluster, and starts nothing. It is an explicit opt-in rather than
 * "KUBECONFIG is set" on purpose: many shells export KUBECONFIG pointing at a real cluster, and
 * the tests create namespaces and CRDs.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import { access, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import {
  createCertificateAuthority,
  issueClientCertFrom,
  issueServingCertFrom,
  type CertificateAuthority,
  type IssuedCert,
} from './pki.js';
import { ManagedProcess, onProcessEnd, removeNow } from './processes.js';

export type { CertificateAuthority, IssuedCert } from './pki.js';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface ControlPlane {
  /** Admin kubeconfig file (client certificate in group system:masters). */
  kubeconfigPath: string;
  kubeConfig: KubeConfig;
  /** https://127.0.0.1:PORT */
  server: string;
  /** Directory of etcd / kube-apiserver / helm; '' for an existing cluster. */
  binDir: string;
  /**
   * PEM of the test CA. It signs the API server's serving certificate (own control plane), and
   * tests use it for webhook serving certificates (`issueServingCert`), giving it as caBundle.
   */
  caCertPem: string;
  ca: CertificateAuthority;
  /** True when TOKENWARDEN_USE_EXISTING_CLUSTER=1 made us reuse a cluster. */
  existingCluster: boolean;
  /** A serving certificate signed by `ca`, for `hosts` (DNS names or IPs). */
  issueServingCert(hosts: string[]): Promise<IssuedCert>;
  /** Stops etcd and kube-apiserver and removes their files. Idempotent. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Defaults to TOKENWARDEN_TESTBIN_DIR, else the output of hack/k8s-testbin/build.sh. */
  binDir?: string;
  /** Readiness budget for etcd + kube-apiserver together. */
  timeoutMs?: number;
  /** Progress messages; default: stderr. */
  log?: (message: string) => void;
  /** Extra kube-apiserver flags (`--feature-gates=...`). */
  apiserverArgs?: string[];
}

const defaultLog = (m: string): void => {
  process.stderr.write(`[control-plane] ${m}\n`);
};

export async function startControlPlane(opts: StartOptions = {}): Promise<ControlPlane> {
  const log = opts.log ?? defaultLog;
  if (process.env.TOKENWARDEN_USE_EXISTING_CLUSTER === '1') return useExistingCluster(log);
  const binDir = opts.binDir ?? (await resolveBinDir(log));
  for (const bin of ['etcd', 'kube-apiserver']) {
    await access(join(binDir, bin)).catch(() => {
      throw new Error(`${join(binDir, bin)} is missing: run hack/k8s-testbin/build.sh`);
    });
  }
  // Ports are picked free and then released, so another process can take one in between:
  // retry the whole start when a bind fails.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(binDir, opts, log);
    } catch (err) {
      if (attempt >= 3 || !(err instanceof PortInUseError)) throw err;
      log(`port taken, retrying (${err.message})`);
    }
  }
}

class PortInUseError extends Error {}

async function startOnce(
  binDir: string,
  opts: StartOptions,
  log: (m: string) => void,
): Promise<ControlPlane> {
  const started = Date.now();
  const deadline = started + (opts.timeoutMs ?? 120_000);
  const ca = await createCertificateAuthority();
  const [serving, admin] = await Promise.all([
    issueServingCertFrom(ca, ['127.0.0.1', 'localhost', '::1']),
    issueClientCertFrom(ca, 'tokenwarden-test-admin', 'system:masters'),
  ]);
  // Signs ServiceAccount tokens (TokenRequest); the public half verifies them (TokenReview).
  const sa = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const saKey = sa.privateKey.export({ type: 'sec1', format: 'pem' });
  const saPub = sa.publicKey.export({ type: 'spki', format: 'pem' });

  const dir = await mkdtemp(join(tmpdir(), 'tokenwarden-cp-'));
  // etcd's data lives in RAM when /dev/shm exists: with --unsafe-no-fsync the tests never wait for a disk.
  const shm = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const etcdData = await mkdtemp(join(shm, 'tokenwarden-etcd-'));
  const certDir = join(dir, 'pki');
  await mkdir(certDir);
  const files = {
    ca: join(certDir, 'ca.crt'),
    cert: join(certDir, 'apiserver.crt'),
    key: join(certDir, 'apiserver.key'),
    sa: join(certDir, 'service-account.key'),
    saPub: join(certDir, 'service-account.pub'),
  };
  await Promise.all([
    writeFile(files.ca, ca.certPem),
    writeFile(files.cert, serving.certPem),
    writeFile(files.key, serving.keyPem, { mode: 0o600 }),
    writeFile(files.sa, saKey, { mode: 0o600 }),
    writeFile(files.saPub, saPub),
  ]);

  const [clientPort, peerPort, securePort] = await freePorts(3);
  const processes: ManagedProcess[] = [];
  let stopped = false;
  // On exit or a signal: etcd's data (RAM) and our files go. Only a SIGKILL leaves the small
  // temp dir with the logs behind; the watchdog still removes etcd's data then.
  const cleanupOnExit = (): void => {
    removeNow(etcdData);
    if (process.env.TOKENWARDEN_KEEP_TESTENV !== '1') removeNow(dir);
  };
  const unregisterCleanup = onProcessEnd(cleanupOnExit);

  const stop = async (keepFiles = process.env.TOKENWARDEN_KEEP_TESTENV === '1'): Promise<void> => {
    if (stopped) return;
    stopped = true;
    // API server first, so it does not spend its grace period retrying a vanished etcd.
    for (const p of [...processes].reverse()) await p.stop();
    unregisterCleanup();
    await rm(etcdData, { recursive: true, force: true });
    if (keepFiles) log(`kept ${dir}`);
    else await rm(dir, { recursive: true, force: true });
  };
  const labelled = (what: string) => (err: unknown) => {
    throw new Error(`${what}: ${err instanceof Error ? err.message : String(err)}`);
  };

  try {
    const etcdUrl = `http://127.0.0.1:${clientPort}`;
    const peerUrl = `http://127.0.0.1:${peerPort}`;
    const etcd = new ManagedProcess({
      name: 'etcd',
      bin: join(binDir, 'etcd'),
      args: [
        '--name=tokenwarden-test',
        `--data-dir=${etcdData}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=tokenwarden-test=${peerUrl}`,
        '--initial-cluster-state=new',
        '--unsafe-no-fsync=true',
        '--log-level=warn',
      ],
      logPath: join(dir, 'etcd.log'),
      scratchDir: etcdData,
    });
    processes.push(etcd);
    await waitFor(etcd, deadline, async () => (await httpGet(`${etcdUrl}/health`)).status === 200).catch(
      labelled('etcd did not become healthy'),
    );

    const server = `https://127.0.0.1:${securePort}`;
    const apiserver = new ManagedProcess({
      name: 'kube-apiserver',
      bin: join(binDir, 'kube-apiserver'),
      args: [
        `--etcd-servers=${etcdUrl}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        `--secure-port=${securePort}`,
        `--cert-dir=${certDir}`,
        `--tls-cert-file=${files.cert}`,
        `--tls-private-key-file=${files.key}`,
        `--client-ca-file=${files.ca}`,
        `--service-account-issuer=${server}`,
        `--service-account-key-file=${files.saPub}`,
        `--service-account-signing-key-file=${files.sa}`,
        '--service-cluster-ip-range=10.0.0.0/24',
        '--authorization-mode=RBAC',
        '--allow-privileged=true',
        // No controller-manager creates the default ServiceAccounts: tests create what they need.
        '--disable-admission-plugins=ServiceAccount',
        '--profiling=false',
        ...(opts.apiserverArgs ?? []),
      ],
      logPath: join(dir, 'kube-apiserver.log'),
    });
    processes.push(apiserver);
    const tls = { ca: ca.certPem, cert: admin.certPem, key: admin.keyPem };
    // With admin credentials: anonymous requests get 403 until RBAC has bootstrapped.
    await waitFor(
      apiserver,
      deadline,
      async () => (await httpGet(`${server}/readyz`, tls)).status === 200,
    ).catch(labelled('kube-apiserver did not become ready'));
    await waitFor(
      apiserver,
      deadline,
      async () => (await httpGet(`${server}/api/v1/namespaces/default`, tls)).status === 200,
    ).catch(labelled('namespace default did not appear'));

    const kubeconfigPath = join(dir, 'kubeconfig');
    await writeFile(kubeconfigPath, adminKubeconfig(server, ca.certPem, admin), { mode: 0o600 });
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(kubeconfigPath);
    log(`kube-apiserver ${server} ready in ${((Date.now() - started) / 1000).toFixed(1)} s (files: ${dir})`);
    return {
      kubeconfigPath,
      kubeConfig,
      server,
      binDir,
      caCertPem: ca.certPem,
      ca,
      existingCluster: false,
      issueServingCert: (hosts) => issueServingCertFrom(ca, hosts),
      stop,
    };
  } catch (err) {
    const tails = processes
      .map((p) => `--- ${p.name} (${p.describeExit()}), last lines of ${p.logPath}:\n${p.tail()}`)
      .join('\n');
    const portInUse = /address already in use/i.test(tails);
    // Keep the logs of a real failure for a look; a port race is retried and leaves nothing.
    await stop(!portInUse);
    const message = `control plane failed to start: ${err instanceof Error ? err.message : String(err)}\n${tails}`;
    throw portInUse ? new PortInUseError(message) : new Error(message);
  }
}

async function useExistingCluster(log: (m: string) => void): Promise<ControlPlane> {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromDefault();
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster)
    throw new Error('TOKENWARDEN_USE_EXISTING_CLUSTER=1 but the kubeconfig has no current cluster');
  const dir = await mkdtemp(join(tmpdir(), 'tokenwarden-cp-'));
  // One file with the resolved current context, whatever KUBECONFIG lists (several files, merged).
  const kubeconfigPath = join(dir, 'kubeconfig');
  await writeFile(kubeconfigPath, kubeConfig.exportConfig(), { mode: 0o600 });
  const ca = await createCertificateAuthority();
  log(`using existing cluster ${cluster.server} (context ${kubeConfig.getCurrentContext()})`);
  return {
    kubeconfigPath,
    kubeConfig,
    server: cluster.server,
    binDir: '',
    caCertPem: ca.certPem,
    ca,
    existingCluster: true,
    issueServingCert: (hosts) => issueServingCertFrom(ca, hosts),
    stop: () => rm(dir, { recursive: true, force: true }),
  };
}

/** TOKENWARDEN_TESTBIN_DIR, or the directory printed by hack/k8s-testbin/build.sh (building if needed). */
export async function resolveBinDir(log: (m: string) => void = defaultLog): Promise<string> {
  const fromEnv = process.env.TOKENWARDEN_TESTBIN_DIR;
  if (fromEnv) return fromEnv;
  log('TOKENWARDEN_TESTBIN_DIR not set: running hack/k8s-testbin/build.sh (slow only the first time)');
  const script = join(REPO_ROOT, 'hack/k8s-testbin/build.sh');
  return new Promise((resolve, reject) => {
    const child = execFile('bash', [script], { maxBuffer: 1 << 20 }, (err, stdout) => {
      if (err) reject(new Error(`hack/k8s-testbin/build.sh failed: ${err.message}`));
      else resolve(stdout.trim().split('\n').pop() ?? '');
    });
    child.stderr?.pipe(process.stderr);
  });
}

function adminKubeconfig(server: string, caPem: string, admin: IssuedCert): string {
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'tokenwarden-test', cluster: { server, 'certificate-authority-data': b64(caPem) } }],
    users: [
      {
        name: 'tokenwarden-test-admin',
        user: { 'client-certificate-data': b64(admin.certPem), 'client-key-data': b64(admin.keyPem) },
      },
    ],
    contexts: [
      {
        name: 'tokenwarden-test',
        context: { cluster: 'tokenwarden-test', user: 'tokenwarden-test-admin', namespace: 'default' },
      },
    ],
    'current-context': 'tokenwarden-test',
  });
}

async function freePorts(n: number): Promise<number[]> {
  // Hold all listeners open until each has its port, so the n ports differ.
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const s = createServer();
          s.once('error', reject);
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => {
    const addr = s.address();
    if (addr === null || typeof addr === 'string') throw new Error('no port');
    return addr.port;
  });
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

/** Polls `ready` until it returns true; fails early when the process exits. */
async function waitFor(proc: ManagedProcess, deadline: number, ready: () => Promise<boolean>): Promise<void> {
  let last: unknown;
  while (Date.now() < deadline) {
    if (!proc.running) throw new Error(`${proc.name} ${proc.describeExit()}`);
    try {
      if (await ready()) return;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const why = last instanceof Error ? ` (last error: ${last.message})` : '';
  throw new Error(`timed out${why}`);
}

interface Tls {
  ca: string;
  cert: string;
  key: string;
}

function httpGet(url: string, tls?: Tls): Promise<{ status: number; body: string }> {
  if (!tls) {
    return fetch(url, { signal: AbortSignal.timeout(5_000) }).then(async (r) => ({
      status: r.status,
      body: await r.text(),
    }));
  }
  return new Promise((resolve, reject) => {
    const req = request(url, { ...tls, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}
