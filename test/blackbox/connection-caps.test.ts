/**
 * Connection caps, black-box: the real sidecar (dist/), raw sockets from several loopback
 * addresses, the recording app behind. A connection over the per-client cap or over the
 * listener's global cap is answered 503 `connection_limit` and closed, and the request in its
 * first packet is never decided nor forwarded (before the fix it was: the cap answered the
 * connection while the request still reached the app). Each address has its own per-client cap,
 * so the global cap is what bounds a client spreading over 127.0.0.2–7.
 */
import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { metric } from './support/metrics.js';
import { policyDoc } from './support/policy.js';
import { startSidecar, waitReady, type Sidecar } from './support/sidecar.js';
import { useWorld } from './support/world.js';
import { sleep, waitFor } from '../support/wait.js';

const RULES = [
  { name: 'public', paths: ['/public/*'], action: 'Allow' as const },
  // The recording app sends ?bytes=N of body at /big.
  { name: 'big', paths: ['/big'], action: 'Allow' as const },
];

const world = useWorld();

async function sidecar(name: string, args: string[]): Promise<Sidecar> {
  const s = await startSidecar({
    name,
    upstream: world.app.url,
    policyYaml: policyDoc(world.issuer, { rules: RULES }),
    args,
  });
  await waitReady(s);
  return s;
}

/** An open, idle connection from `from`, once the sidecar has accepted it. */
async function idle(s: Sidecar, from: string): Promise<Socket> {
  const c = connect({ port: s.proxyPort, host: '127.0.0.1', localAddress: from });
  c.on('error', () => undefined);
  await new Promise<void>((r) => c.once('connect', () => r()));
  return c;
}

/** A connection whose first packet is a whole request; everything the sidecar answers. */
function firstPacket(s: Sidecar, from: string, path: string): Promise<string> {
  return new Promise((resolve) => {
    const c = connect({ port: s.proxyPort, host: '127.0.0.1', localAddress: from });
    let text = '';
    c.setEncoding('latin1');
    c.on('data', (d: string) => (text += d));
    c.on('error', () => undefined);
    const timer = setTimeout(() => c.destroy(), 4_000);
    c.on('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
    c.write(`GET ${path} HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n`);
  });
}

describe('connection caps', () => {
  it("over the per-client cap: 503, and the first packet's request never reaches the app", async () => {
    const s = await sidecar('per-client-cap', ['--max-connections-per-client', '2']);
    const held = [await idle(s, '127.0.0.5'), await idle(s, '127.0.0.5')];
    await sleep(100);
    const before = await metric(s.adminUrl, 'tokenwarden_requests_total', { reason: 'connection_limit' });
    const text = await firstPacket(s, '127.0.0.5', '/public/over-client-cap');
    expect(text).toMatch(/^HTTP\/1\.1 503/);
    expect(text.match(/^HTTP\/1\.1 \d{3}/gm)).toHaveLength(1);
    await sleep(300);
    expect(world.app.receivedFor('/public/over-client-cap')).toHaveLength(0);
    expect(await metric(s.adminUrl, 'tokenwarden_requests_total', { reason: 'connection_limit' })).toBe(
      before + 1,
    );
    // Another address has its own cap.
    expect(await firstPacket(s, '127.0.0.6', '/public/other-client')).toMatch(/^HTTP\/1\.1 200/);
    held.forEach((h) => h.destroy());
  });

  it('over the global cap, whatever the address: 503, never forwarded; room again once one closes', async () => {
    const s = await sidecar('global-cap', ['--max-connections', '3']);
    const held = [await idle(s, '127.0.0.2'), await idle(s, '127.0.0.3'), await idle(s, '127.0.0.4')];
    await sleep(100);
    const text = await firstPacket(s, '127.0.0.7', '/public/over-global-cap');
    expect(text).toMatch(/^HTTP\/1\.1 503/);
    await sleep(300);
    expect(world.app.receivedFor('/public/over-global-cap')).toHaveLength(0);
    held[0]?.destroy();
    await waitFor(
      'a free connection slot',
      async () => /^HTTP\/1\.1 200/.test(await firstPacket(s, '127.0.0.7', '/public/after-close')),
      10_000,
      200,
    );
    held.forEach((h) => h.destroy());
  });
});

describe('clients that never read', () => {
  it('a response its client stops reading is cut after --response-stall-timeout-ms (the rest never sent)', async () => {
    const s = await sidecar('stall', ['--response-stall-timeout-ms', '1000']);
    const size = 32 * 1024 * 1024;
    const c = connect({ port: s.proxyPort, host: '127.0.0.1', localAddress: '127.0.0.9' });
    c.on('error', () => undefined);
    c.pause(); // reads nothing: the sidecar's writes stop draining once the kernel buffers fill
    c.write(`GET /big?bytes=${size} HTTP/1.1\r\nhost: a\r\n\r\n`);
    await waitFor('the app to be asked', () => world.app.receivedFor('/big').length > 0, 10_000);
    await sleep(4_000);
    // Now read whatever the sidecar had sent before it gave up.
    let got = 0;
    c.on('data', (d: Buffer) => (got += d.length));
    c.resume();
    const ended = await Promise.race([
      new Promise<boolean>((r) => c.once('close', () => r(true))),
      sleep(15_000).then(() => false),
    ]);
    expect(ended).toBe(true);
    expect(got).toBeLessThan(size);
    c.destroy();
  }, 40_000);
});
