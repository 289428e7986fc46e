/**
 * What the real `tokenwarden sidecar --control-plane` sends back and shows (ADR 0012): every
 * ack carries the pod's token, as the stream does, and names the content hash of what the
 * sidecar applied; `/status` on the admin port shows no session id, nothing an ack forger could
 * use. The stream peer (test/support/stream-server.ts) records each ack as it arrived.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { startStreamSidecar, streamPolicy, useStreamWorld } from './support/control-plane.js';
import { recordToken } from './support/ledger.js';
import { type Sidecar } from './support/sidecar.js';
import { waitFor } from '../support/wait.js';

const world = useStreamWorld('acks', (issuer) => ({ policy: streamPolicy(issuer), heartbeatMs: 1_000 }));
let sidecar: Sidecar;
const podToken = `pod-token-acks-${Math.random().toString(36).slice(2)}-${'y'.repeat(40)}`;

beforeAll(async () => {
  recordToken(podToken);
  world.server.allowToken(podToken);
  writeFileSync(world.tokenFile, `${podToken}\n`);
  sidecar = await startStreamSidecar({
    name: 'acks',
    server: world.server,
    upstream: world.app.url,
    tokenFile: world.tokenFile,
    stateDir: join(world.dir, 'state'),
  });
});

describe('acknowledgements from the sidecar', () => {
  it("carry the pod's token and the content hash of what was applied", async () => {
    await waitFor('an ack', () => world.server.acks.length > 0, 10_000, 20);
    for (const a of world.server.acks) {
      expect(a.authorization).toBe(`Bearer ${podToken}`);
      expect(a.version).toBe(world.server.version);
    }
  });

  it('/status shows no session id', async () => {
    const text = await (await fetch(`${sidecar.adminUrl}/status`)).text();
    expect(text).not.toMatch(/"session"/);
    for (const a of world.server.acks) expect(text).not.toContain(a.session);
    expect(JSON.parse(text)).toMatchObject({ source: { connected: true, version: world.server.version } });
  });
});
