/**
 * The kubeconfig the operator and the CLI load (src/cli/kubeconfig.ts) reuses its connections to
 * the API server: ten calls through a generated client open one TLS connection, where the
 * library's own KubeConfig opens one per call. Counted by a TCP relay in front of the real API
 * server of the harness (the kubeconfig is pointed at the relay; same IP, so TLS still checks).
 */
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadKubeconfig } from '../../src/cli/kubeconfig.js';

let relay: net.Server;
let accepted = 0;
const open = new Set<net.Socket>();
let kubeconfig: string;
const dir = mkdtempSync(join(tmpdir(), 'tw-kept-alive-'));

beforeAll(async () => {
  const upstream = new URL(inject('kubeServer'));
  relay = net.createServer((client) => {
    accepted++;
    const server = net.connect(Number(upstream.port), upstream.hostname);
    for (const s of [client, server]) {
      open.add(s);
      s.on('close', () => open.delete(s));
    }
    client.pipe(server).pipe(client);
    client.on('error', () => server.destroy());
    server.on('error', () => client.destroy());
  });
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
  const kc = new KubeConfig();
  kc.loadFromFile(inject('kubeconfigPath'));
  const port = (relay.address() as AddressInfo).port;
  kc.loadFromOptions({
    clusters: kc.clusters.map((c) => ({ ...c, server: `https://127.0.0.1:${port}` })),
    contexts: kc.contexts,
    users: kc.users,
    currentContext: kc.currentContext,
  });
  kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, kc.exportConfig(), { mode: 0o600 });
});

afterAll(async () => {
  // The kept-alive connections would hold the relay open: cut them.
  for (const s of open) s.destroy();
  await new Promise((r) => relay.close(r));
  rmSync(dir, { recursive: true, force: true });
});

async function connectionsFor(kc: KubeConfig, calls: number): Promise<number> {
  const before = accepted;
  const core = kc.makeApiClient(CoreV1Api);
  for (let i = 0; i < calls; i++) await core.listNamespace({ limit: 1 });
  return accepted - before;
}

describe('API server connections', () => {
  it('are kept alive: ten calls, one connection (the library alone opens ten)', async () => {
    const library = new KubeConfig();
    library.loadFromFile(kubeconfig);
    expect(await connectionsFor(library, 10)).toBe(10);
    expect(await connectionsFor(loadKubeconfig(kubeconfig), 10)).toBe(1);
  });
});
