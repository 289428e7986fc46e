/**
 * Every request is counted once, under the reason it ended with, and every refusal is logged:
 * the real sidecar (dist/), raw sockets in front, the recording app behind. Before the fix a
 * request without Host got node:http's own 400 (neither counted nor logged), a
 * `Transfer-Encoding: identity` request was answered twice and counted twice (once by the
 * request handler, once by the parser error that followed), and a forward decision was counted
 * as an allow even when it ended in a body timeout or `upstream_busy`.
 */
import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { send } from './support/http.js';
import { metric } from './support/metrics.js';
import { policyDoc } from './support/policy.js';
import { useWorld } from './support/world.js';
import { sleep, waitFor } from '../support/wait.js';

const RULES = [
  { name: 'public', paths: ['/public/*'], action: 'Allow' as const },
  // The recording app answers /slow?ms=N after N ms.
  { name: 'slow', paths: ['/slow'], action: 'Allow' as const },
];

const world = useWorld({
  name: 'counting',
  policy: (issuer) => policyDoc(issuer, { rules: RULES }),
  args: ['--body-idle-timeout-ms', '1000', '--upstream-queue-timeout-ms', '500'],
});

/** Everything the sidecar sends on one connection until it closes it (or `ms` pass). */
function exchange(data: string, ms = 4_000, localAddress = '127.0.0.1'): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ port: world.sidecar.proxyPort, host: '127.0.0.1', localAddress });
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (text += d));
    socket.on('error', () => undefined);
    const timer = setTimeout(() => socket.destroy(), ms);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
    socket.write(data);
  });
}

const total = (labels: Record<string, string> = {}) =>
  metric(world.sidecar.adminUrl, 'tokenwarden_requests_total', labels);
const statusLines = (text: string) => text.match(/^HTTP\/1\.1 \d{3}/gm) ?? [];

describe('counted once, logged', () => {
  it('a request without Host: 400 from the sidecar, counted as malformed_http and logged', async () => {
    const [all, malformed] = [await total(), await total({ reason: 'malformed_http' })];
    const text = await exchange('GET /public/no-host HTTP/1.1\r\n\r\n');
    expect(statusLines(text)).toEqual(['HTTP/1.1 400']);
    expect(text).toContain('invalid_request');
    await waitFor('the refusal to be counted', async () => (await total()) === all + 1, 5_000);
    expect(await total({ reason: 'malformed_http' })).toBe(malformed + 1);
    expect(world.sidecar.logs()).toContain('no Host header');
    expect(world.app.receivedFor('/public/no-host')).toHaveLength(0);
  });

  it.each(['identity', 'gzip', 'chunked, identity', 'gzip, chunked'])(
    'Transfer-Encoding: %s is answered once, counted once, never forwarded',
    async (te) => {
      const all = await total();
      const path = `/public/te-${te.replace(/\W+/g, '-')}`;
      const text = await exchange(
        `POST ${path} HTTP/1.1\r\nhost: a\r\ntransfer-encoding: ${te}\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
      );
      expect(statusLines(text)).toEqual(['HTTP/1.1 400']);
      await sleep(300);
      expect(await total()).toBe(all + 1);
      expect(world.app.receivedFor(path)).toHaveLength(0);
    },
  );

  it('a body that times out is counted as a timeout, not also as an allow', async () => {
    const [allow, timeout] = [await total({ decision: 'allow' }), await total({ reason: 'timeout' })];
    const text = await exchange(
      'POST /public/slow-body HTTP/1.1\r\nhost: a\r\ncontent-length: 100\r\n\r\n0123456789',
      6_000,
    );
    expect(statusLines(text)).toEqual(['HTTP/1.1 408']);
    expect(await total({ reason: 'timeout' })).toBe(timeout + 1);
    expect(await total({ decision: 'allow' })).toBe(allow);
    expect(world.app.receivedFor('/public/slow-body')).toHaveLength(0);
  }, 20_000);

  it('a request refused upstream_busy is counted once, as upstream_busy', async () => {
    // Hold all 128 upstream connections with requests the app answers after 4 s.
    const held: Socket[] = [];
    const before = world.app.receivedFor('/slow').length;
    for (let i = 0; i < 128; i++) {
      const c = connect({
        port: world.sidecar.proxyPort,
        host: '127.0.0.1',
        localAddress: `127.0.4.${1 + (i % 8)}`,
      });
      c.on('error', () => undefined);
      c.write(`GET /slow?ms=4000&i=${i} HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n`);
      held.push(c);
    }
    await waitFor(
      'all 128 upstream connections to be busy',
      () => world.app.receivedFor('/slow').length - before >= 128,
      15_000,
    );
    const [allow, busy] = [await total({ decision: 'allow' }), await total({ reason: 'upstream_busy' })];
    const res = await send(world.sidecar.proxyUrl, '/public/busy', { timeoutMs: 5_000 });
    expect(res.status).toBe(503);
    expect(await total({ reason: 'upstream_busy' })).toBe(busy + 1);
    expect(await total({ decision: 'allow' })).toBe(allow);
    held.forEach((h) => h.destroy());
  }, 40_000);
});
