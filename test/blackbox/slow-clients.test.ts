/**
 * Slow clients do not hold the app's connections, black-box: the real sidecar (dist/, default
 * flags: 128 upstream connections), raw sockets in front, the recording app behind. Before the
 * fix, 140 clients trickling a large body, or 140 clients never reading a large answer, held
 * every upstream connection (for the body's 10 s grace, for the answer's 30 s stall bound): a
 * legitimate request waited out the 5 s queue bound and got 503. Now, while requests wait for a
 * connection, an exchange that has waited on its client for a second is cut to free one. Large
 * bodies and answers from clients that keep up still stream whole.
 */
import { createHash } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { bigBody } from './support/app.js';
import { raw } from './support/http.js';
import { metric } from './support/metrics.js';
import { policyDoc } from './support/policy.js';
import { startSidecar, waitReady, type Sidecar } from './support/sidecar.js';
import { sleep, waitFor } from '../support/wait.js';
import { useWorld } from './support/world.js';

const world = useWorld();
/** More than the sidecar's 128 upstream connections, as in bench/slow-clients.ts. */
const ATTACKERS = 140;
const RULES = [
  { name: 'public', paths: ['/public/*'], action: 'Allow' as const },
  { name: 'big', paths: ['/big'], action: 'Allow' as const },
];
const open = new Set<Socket>();

afterEach(() => {
  for (const c of open) c.destroy();
  open.clear();
});

async function sidecar(name: string): Promise<Sidecar> {
  const s = await startSidecar({
    name,
    upstream: world.app.url,
    policyYaml: policyDoc(world.issuer, { rules: RULES }),
  });
  await waitReady(s);
  return s;
}

/** `count` raw connections from 127.0.2.x, each sending `first` and then nothing it is not told to. */
async function attackers(s: Sidecar, count: number, first: (i: number) => Buffer | string, read: boolean) {
  for (let i = 0; i < count; i++) {
    const c = connect({ port: s.proxyPort, host: '127.0.0.1', localAddress: `127.0.2.${1 + (i % 200)}` });
    c.on('error', () => undefined);
    if (read) c.resume();
    else c.pause(); // never read: the answer fills the socket buffers and stays there
    open.add(c);
    await new Promise<void>((r) => c.once('connect', () => r()));
    c.write(first(i));
    if (i % 20 === 19) await sleep(20);
  }
}

/** A legitimate request after the attack holds the pool: answered 200, and seen by the app. */
async function legitimateGetsThrough(s: Sidecar, tag: string): Promise<void> {
  const path = `/public/legit-${tag}`;
  const r = await raw(s.proxyPort, `GET ${path} HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n`, 4_500);
  expect(r.status).toBe(200);
  expect(world.app.receivedFor(path)).toHaveLength(1);
}

describe('slow clients and the upstream pool', () => {
  it('clients trickling a large body do not keep a legitimate request from the app', async () => {
    const s = await sidecar('slow-body');
    const before = await metric(s.adminUrl, 'tokenwarden_requests_total', { reason: 'timeout' });
    await attackers(
      s,
      ATTACKERS,
      (i) =>
        Buffer.concat([
          Buffer.from(`POST /public/upload?i=${i} HTTP/1.1\r\nhost: a\r\ncontent-length: 10000000\r\n\r\n`),
          Buffer.alloc(70_000, 0x61),
        ]),
      true,
    );
    // Every upstream connection is taken by a trickling body (the rest wait for one).
    await waitFor(
      'the pool held by trickling bodies',
      async () => (await metric(s.adminUrl, 'tokenwarden_requests_total', { decision: 'allow' })) >= 128,
      10_000,
    );
    await legitimateGetsThrough(s, 'body');
    // The body cut for it is counted as a body timeout.
    expect(await metric(s.adminUrl, 'tokenwarden_requests_total', { reason: 'timeout' })).toBeGreaterThan(
      before,
    );
  });

  it('clients never reading a large answer do not keep a legitimate request from the app', async () => {
    const s = await sidecar('no-read');
    const seen = world.app.receivedFor('/big').length;
    await attackers(s, ATTACKERS, (i) => `GET /big?bytes=4194304&i=${i} HTTP/1.1\r\nhost: a\r\n\r\n`, false);
    await waitFor(
      'the pool held by unread answers',
      () => world.app.receivedFor('/big').length - seen >= 128,
      10_000,
    );
    await sleep(500); // the answers fill the socket buffers
    await legitimateGetsThrough(s, 'no-read');
  });

  it('a large body from a client that keeps up reaches the app whole', async () => {
    const s = await sidecar('large-body');
    const body = bigBody(3 * 1024 * 1024 + 17);
    const head = `POST /public/large HTTP/1.1\r\nhost: a\r\nconnection: close\r\ncontent-length: ${body.length}\r\n\r\n`;
    const r = await raw(s.proxyPort, Buffer.concat([Buffer.from(head), body]), 20_000);
    expect(r.status).toBe(200);
    const got = world.app.receivedFor('/public/large');
    expect(got).toHaveLength(1);
    expect(got[0]!.bodyLength).toBe(body.length);
    expect(got[0]!.bodySha256).toBe(createHash('sha256').update(body).digest('hex'));
  });

  it('a large answer read in pauses reaches the client byte for byte', async () => {
    const s = await sidecar('large-answer');
    const bytes = 3 * 1024 * 1024 + 5;
    const c = connect({ port: s.proxyPort, host: '127.0.0.1' });
    open.add(c);
    const chunks: Buffer[] = [];
    c.on('data', (d: Buffer) => {
      chunks.push(d);
      // A reader that stops now and then (for less than the stall bound).
      if (chunks.length % 16 === 0) {
        c.pause();
        setTimeout(() => c.resume(), 100);
      }
    });
    const closed = new Promise<void>((r) => c.once('close', () => r()));
    c.write(`GET /big?bytes=${bytes} HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n`);
    await closed;
    const all = Buffer.concat(chunks);
    const split = all.indexOf('\r\n\r\n');
    expect(all.subarray(0, split).toString('latin1')).toMatch(/^HTTP\/1\.1 200/);
    expect(dechunk(all.subarray(split + 4)).equals(bigBody(bytes))).toBe(true);
  });
});

/** A chunked body's bytes (the app answers /big chunked). */
function dechunk(b: Buffer): Buffer {
  const out: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = b.indexOf('\r\n', at);
    const size = parseInt(b.subarray(at, eol).toString('latin1'), 16);
    if (!(size > 0)) return Buffer.concat(out);
    out.push(b.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}
