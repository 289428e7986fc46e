/**
 * What the real `tokenwarden sidecar --control-plane` sends back and shows (ADR 0012): every
 * ack carries the pod's token, as the stream does, and names the content hash of what the
 * sidecar applied; `/status` on the admin port shows no session id, nothing an ack forger could
 * use. The stream peer (test/support/stream-server.ts) records each ack as it arrived.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStreamServer, type StreamServer } from '../support/stream-server.js';
import { startApp, type App } from './support/app.js';
import { startStreamSidecar, streamPolicy } from './support/control-plane.js';
import { startIssuer, type Issuer } from './support/issuer.js';
import { recordToken } from './support/ledger.js';
import { stopAllSidecars, type Sidecar } from './support/sidecar.js';
import { waitFor } from '../support/wait.js';

let issuer: Issuer;
let app: App;
let server: StreamServer;
let dir: string;
let sidecar: Sidecar;
const podToken = `pod-token-acks-${Math.random().toString(36).slice(2)}-${'y'.repeat(40)}`;

beforeAll(async () => {
  issuer = await startIssuer();
  app = await startApp();
  dir = mkdtempSync(join(tmpdir(), 'tokenwarden-bb-acks-'));
  server = await startStreamServer({ policy: streamPolicy(issuer), heartbeatMs: 1_000 });
  recordToken(podToken);
  server.allowToken(podToken);
  writeFileSync(join(dir, 'token'), `${podToken}\n`);
  sidecar = await startStreamSidecar({
    name: 'acks',
    server,
    upstream: app.url,
    tokenFile: join(dir, 'token'),
    stateDir: join(dir, 'state'),
  });
});

afterAll(async () => {
  await stopAllSidecars();
  await server?.close();
  await app?.close();
  await issuer?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('acknowledgements from the sidecar', () => {
  it("carry the pod's token and the content hash of what was applied", async () => {
    await waitFor('an ack', () => server.acks.length > 0, 10_000, 20);
    for (const a of server.acks) {
      expect(a.authorization).toBe(`Bearer ${podToken}`);
      expect(a.version).toBe(server.version);
    }
  });

  it('/status shows no session id', async () => {
    const text = await (await fetch(`${sidecar.adminUrl}/status`)).text();
    expect(text).not.toMatch(/"session"/);
    for (const a of server.acks) expect(text).not.toContain(a.session);
    expect(JSON.parse(text)).toMatchObject({ source: { connected: true, version: server.version } });
  });
});
