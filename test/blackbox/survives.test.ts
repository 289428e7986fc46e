/**
 * The process never exits because of one client: every stream, socket and timer error path a
 * client (or a broken peer) can reach is driven against the real sidecar (dist/), with raw
 * sockets in front and the recording app behind; after each, the same process must still be
 * running and still forward a legitimate request. Before the fix, a streamed body destroyed by
 * its reader's timer or abort handler (src/proxy/body.ts) with nobody else listening, and a
 * CONNECT or upgrade socket reset by its client, killed the process.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { send } from './support/http.js';
import { metric } from './support/metrics.js';
import { policyDoc } from './support/policy.js';
import { startSidecar, waitReady, type Sidecar } from './support/sidecar.js';
import { useWorld } from './support/world.js';
import { sleep, waitFor } from '../support/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'tokenwarden-survives-'));

const RULES = [{ name: 'public', paths: ['/public/*'], action: 'Allow' as const }];

// Registered before the world's hooks, so it runs after them (after-hooks run in reverse).
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const world = useWorld();

async function sidecarWith(name: string, args: string[]): Promise<Sidecar> {
  const s = await startSidecar({
    name,
    upstream: world.app.url,
    policyYaml: policyDoc(world.issuer, { rules: RULES }),
    args,
  });
  await waitReady(s);
  return s;
}

/** A raw connection whose answer bytes are collected; errors are the test's to ignore. */
function open(port: number, localAddress = '127.0.0.1'): { socket: Socket; text: () => string } {
  const socket = connect({ port, host: '127.0.0.1', localAddress });
  let text = '';
  socket.setEncoding('latin1');
  socket.on('data', (d: string) => (text += d));
  socket.on('error', () => undefined);
  return { socket, text: () => text };
}

/** Holds every one of the sidecar's 128 upstream connections with a request the app answers after `ms`. */
async function fillUpstream(s: Sidecar, ms: number): Promise<Socket[]> {
  const before = world.app.receivedFor('/public/slow').length;
  const sockets = Array.from({ length: 128 }, (_, i) => {
    const c = open(s.proxyPort, `127.0.3.${1 + (i % 8)}`);
    c.socket.write(`GET /public/slow?ms=${ms}&i=${i} HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n`);
    return c.socket;
  });
  await waitFor(
    'all 128 upstream connections to be busy',
    () => world.app.receivedFor('/public/slow').length - before >= 128,
    15_000,
  );
  return sockets;
}

/** A POST whose body is larger than the 64 KiB buffer: 70,000 bytes sent, then silence. */
function stalledUpload(s: Sidecar, path: string): { socket: Socket; text: () => string } {
  const c = open(s.proxyPort);
  c.socket.write(`POST ${path} HTTP/1.1\r\nhost: a\r\ncontent-length: 200000\r\n\r\n`);
  c.socket.write(Buffer.alloc(70_000, 0x61));
  return c;
}

/** The same process is still running, its admin port answers, and it forwards a request. */
async function assertServing(s: Sidecar): Promise<void> {
  const exited = await Promise.race([s.exited, sleep(50).then(() => undefined)]);
  expect(exited, `the sidecar exited: ${s.stderr().slice(-2000)}`).toBeUndefined();
  expect((await fetch(`${s.adminUrl}/healthz`)).status).toBe(200);
  await waitFor(
    'a legitimate request to be forwarded',
    async () => (await send(s.proxyUrl, '/public/alive', { timeoutMs: 5_000 })).status === 200,
    20_000,
    200,
  );
  expect(s.stderr()).not.toMatch(/uncaught|unhandled/i);
}

describe('request bodies', () => {
  it('a streamed body whose client leaves while it waits for an upstream connection', async () => {
    const s = await sidecarWith('busy-abort', ['--upstream-queue-timeout-ms', '4000']);
    const held = await fillUpstream(s, 3_000);
    for (let i = 0; i < 5; i++) {
      const upload = stalledUpload(s, `/public/upload-${i}`);
      await sleep(150);
      upload.socket.resetAndDestroy();
    }
    await sleep(500);
    await assertServing(s);
    held.forEach((h) => h.destroy());
  }, 60_000);

  it('a streamed body that stalls while the app reads it (late timeout cuts the exchange)', async () => {
    const s = await sidecarWith('late-stall', ['--body-idle-timeout-ms', '1500']);
    const before = await metric(s.adminUrl, 'tokenwarden_requests_total', { reason: 'timeout' });
    const upload = stalledUpload(s, '/public/duplex');
    await waitFor(
      'the connection to be cut',
      () => upload.socket.destroyed || upload.socket.readableEnded,
      8_000,
    );
    await assertServing(s);
    expect(await metric(s.adminUrl, 'tokenwarden_requests_total', { reason: 'timeout' })).toBe(before + 1);
  }, 60_000);
});

describe('sockets handed over by node:http', () => {
  it.each([
    ['CONNECT', 'CONNECT 127.0.0.1:22 HTTP/1.1\r\nhost: 127.0.0.1:22\r\n\r\n'],
    ['an upgrade', 'GET /public/ws HTTP/1.1\r\nhost: a\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n'],
  ])(
    '%s whose client resets at once',
    async (_name, head) => {
      const s = await sidecarWith(`reset-${_name.replace(/\W/g, '')}`, []);
      for (let i = 0; i < 40; i++) {
        const c = open(s.proxyPort);
        c.socket.write(head);
        if (i % 2 === 0) c.socket.resetAndDestroy();
        else setTimeout(() => c.socket.resetAndDestroy(), 1);
      }
      await sleep(500);
      await assertServing(s);
    },
    60_000,
  );
});

describe('responses, admin and the policy file', () => {
  it('clients that leave before, during and after the app answers (writeHead after the client left)', async () => {
    const s = await sidecarWith('left-early', []);
    for (let i = 0; i < 30; i++) {
      const c = open(s.proxyPort);
      c.socket.write(`GET /public/slow?ms=${50 + (i % 5) * 20}&i=${i} HTTP/1.1\r\nhost: a\r\n\r\n`);
      setTimeout(() => c.socket.resetAndDestroy(), (i % 6) * 20);
    }
    await sleep(800);
    await assertServing(s);
  }, 60_000);

  it('admin clients that reset mid-request, and a policy file rewritten with garbage', async () => {
    const s = await sidecarWith('admin-file', []);
    const port = Number(new URL(s.adminUrl).port);
    for (let i = 0; i < 20; i++) {
      const c = open(port);
      c.socket.write(`GET /${i % 2 === 0 ? 'metrics' : 'status'} HTTP/1.1\r\nhost: a\r\n\r\n`);
      if (i % 2 === 0) c.socket.resetAndDestroy();
      else setTimeout(() => c.socket.resetAndDestroy(), 1);
    }
    for (const text of ['\u0000\u0001', '{', 'kind: TokenPolicy\nspec: [', 'x'.repeat(200_000)]) {
      s.writePolicy(text);
      await sleep(300);
    }
    await assertServing(s);
  }, 60_000);
});

describe('slow bodies', () => {
  it('a burst then a trickle is judged over a recent window, not since the start', async () => {
    const s = await sidecarWith('window', []);
    const before = await metric(s.adminUrl, 'tokenwarden_requests_total', { reason: 'timeout' });
    const upload = stalledUpload(s, '/public/trickle');
    // 70,000 bytes at once average above 1024 B/s for over a minute; one byte a second after.
    for (let i = 0; i < 25 && !upload.socket.destroyed && !upload.text().includes(' 408 '); i++) {
      await sleep(1_000);
      upload.socket.write('a');
    }
    // Streamed to the app already: the exchange is cut (a 408 if the app had not answered).
    expect(upload.socket.destroyed || upload.text().includes(' 408 ')).toBe(true);
    expect(await metric(s.adminUrl, 'tokenwarden_requests_total', { reason: 'timeout' })).toBe(before + 1);
  }, 60_000);
});
