/**
 * What crosses the sidecar in the body: bodies stream both ways, and an app that is down answers
 * 502 until it is back.
 */
import { createHash, randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { bigBody, chunkedBody } from './support/app.js';
import { raw, rawGet, requestText, send } from './support/http.js';
import { identities, tokenLeaks } from './support/ledger.js';
import { leakyLabels } from './support/metrics.js';
import { sleep, waitFor } from '../support/wait.js';
import { forwardingWorld, stillServing } from './support/forwarding.js';

const world = forwardingWorld('forwarding-bodies');

describe('bodies', () => {
  const big = randomBytes(5 * 1024 * 1024);
  const bigSha = createHash('sha256').update(big).digest('hex');

  it('a 5 MiB POST body with Content-Length arrives intact', async () => {
    const res = await send(world.sidecar.proxyUrl, '/orders/upload-cl', {
      method: 'POST',
      token: await world.issuer.token(),
      body: big,
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({ bodyLength: big.length, bodySha256: bigSha });
  });

  it('a 5 MiB chunked POST body arrives intact', async () => {
    function* chunks(): Generator<Buffer> {
      for (let i = 0; i < big.length; i += 256 * 1024) yield big.subarray(i, i + 256 * 1024);
    }
    const res = await send(world.sidecar.proxyUrl, '/orders/upload-chunked', {
      method: 'PUT',
      token: await world.issuer.token(),
      body: chunks(),
    });
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({ method: 'PUT', bodyLength: big.length, bodySha256: bigSha });
  });

  it('a chunked response arrives intact, still chunked', async () => {
    const res = await rawGet(world.sidecar.proxyPort, '/chunked', [
      `authorization: Bearer ${await world.issuer.token()}`,
    ]);
    expect(res.status).toBe(200);
    expect(res.header('x-app')).toBe('chunked');
    expect(res.header('transfer-encoding')).toBe('chunked');
    expect(res.body.equals(chunkedBody())).toBe(true);
  });

  // Bodies up to 64 KiB are now read whole before the app is contacted, so the
  // first chunk is larger than that (it used to be 5 bytes): beyond the buffer, bodies stream.
  it('bodies stream both ways: the app echoes the first chunk before the client has sent the second', async () => {
    const first = `first${'x'.repeat(64 * 1024)}`;
    const token = await world.issuer.token();
    const socket = connect(world.sidecar.proxyPort, '127.0.0.1');
    let received = '';
    socket.setEncoding('latin1');
    socket.on('data', (s: string) => (received += s));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    try {
      socket.write(
        requestText(
          [
            'POST /duplex HTTP/1.1',
            'host: 127.0.0.1',
            `authorization: Bearer ${token}`,
            'transfer-encoding: chunked',
            'connection: close',
          ],
          `${first.length.toString(16)}\r\n${first}\r\n`,
        ),
      );
      await waitFor('the first chunk echoed back', () => received.includes('first'), 5_000);
      expect(received).not.toContain('second');
      socket.write('6\r\nsecond\r\n0\r\n\r\n');
      await waitFor('the second chunk echoed back', () => received.includes('second'), 5_000);
    } finally {
      socket.end();
      await Promise.race([closed, sleep(2_000)]);
      socket.destroy();
    }
    expect(received).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('an 8 MiB response reaches a client that stops reading for a while, intact (backpressure)', async () => {
    const bytes = 8 * 1024 * 1024;
    const token = await world.issuer.token();
    const socket = connect(world.sidecar.proxyPort, '127.0.0.1');
    const chunks: Buffer[] = [];
    let total = 0;
    let paused = false;
    const done = new Promise<void>((resolve, reject) => {
      socket.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        total += chunk.length;
        if (!paused && total > 256 * 1024) {
          paused = true;
          socket.pause();
          setTimeout(() => socket.resume(), 500);
        }
      });
      socket.on('end', () => resolve());
      socket.on('error', reject);
    });
    socket.write(
      requestText([
        `GET /big?bytes=${bytes} HTTP/1.1`,
        'host: 127.0.0.1',
        `authorization: Bearer ${token}`,
        'connection: close',
      ]),
    );
    await Promise.race([
      done,
      new Promise((_, reject) => setTimeout(() => reject(new Error('download timed out')), 20_000)),
    ]);
    socket.destroy();
    const raw = Buffer.concat(chunks);
    const headEnd = raw.indexOf('\r\n\r\n');
    expect(raw.subarray(0, headEnd).toString('latin1')).toMatch(/^HTTP\/1\.1 200 /);
    const body = dechunked(raw.subarray(headEnd + 4));
    expect(body.length).toBe(bytes);
    expect(createHash('sha256').update(body).digest('hex')).toBe(
      createHash('sha256').update(bigBody(bytes)).digest('hex'),
    );
  });

  it('a client that hangs up in the middle of a response does not disturb the sidecar', async () => {
    const socket = connect(world.sidecar.proxyPort, '127.0.0.1');
    let got = 0;
    socket.on('data', (chunk: Buffer) => {
      got += chunk.length;
      if (got > 64 * 1024) socket.destroy();
    });
    socket.on('error', () => undefined);
    socket.write(
      requestText([
        'GET /big?bytes=16777216 HTTP/1.1',
        'host: 127.0.0.1',
        `authorization: Bearer ${await world.issuer.token()}`,
      ]),
    );
    await waitFor('the client to hang up', () => socket.destroyed, 5_000);
    await stillServing(world);
    expect(world.sidecar.logs()).not.toContain('internal error');
  });

  it('a client that hangs up in the middle of an upload does not disturb the sidecar', async () => {
    const socket = connect(world.sidecar.proxyPort, '127.0.0.1');
    socket.on('error', () => undefined);
    socket.write(
      requestText(
        [
          'POST /orders/abandoned HTTP/1.1',
          'host: 127.0.0.1',
          `authorization: Bearer ${await world.issuer.token()}`,
          `content-length: ${1024 * 1024}`,
        ],
        'x'.repeat(16 * 1024),
      ),
    );
    await sleep(200);
    socket.destroy();
    await stillServing(world);
    expect(world.app.receivedFor('/orders/abandoned').every((r) => r.bodyLength < 1024 * 1024)).toBe(true);
  });

  it('a HEAD request is forwarded and answered without a body', async () => {
    const res = await raw(
      world.sidecar.proxyPort,
      requestText([
        'HEAD /orders/head HTTP/1.1',
        'host: 127.0.0.1',
        `authorization: Bearer ${await world.issuer.token()}`,
        'connection: close',
      ]),
    );
    expect(res.status).toBe(200);
    expect(res.body.length).toBe(0);
    expect(world.app.receivedFor('/orders/head')[0]?.method).toBe('HEAD');
  });

  it('a POST with Expect: 100-continue is forwarded and its body arrives intact', async () => {
    const body = 'x'.repeat(2048);
    const res = await raw(
      world.sidecar.proxyPort,
      requestText(
        [
          'POST /orders/expect HTTP/1.1',
          'host: 127.0.0.1',
          `authorization: Bearer ${await world.issuer.token()}`,
          `content-length: ${body.length}`,
          'expect: 100-continue',
          'connection: close',
        ],
        body,
      ),
    );
    // raw() reads the first response; an interim 100 Continue is skipped by looking at the rest.
    const final = /HTTP\/1\.1 (\d{3})(?![\s\S]*HTTP\/1\.1 \d{3})/.exec(res.raw)?.[1];
    expect(final).toBe('200');
    expect(world.app.receivedFor('/orders/expect')[0]?.bodyLength).toBe(body.length);
  });
});

/** A chunked body decoded (the sidecar re-frames the app's chunks its own way). */
function dechunked(buf: Buffer): Buffer {
  const out: Buffer[] = [];
  let at = 0;
  for (let i = 0; i < 1_000_000; i++) {
    const lineEnd = buf.indexOf('\r\n', at);
    if (lineEnd === -1) break;
    const size = parseInt(buf.subarray(at, lineEnd).toString('latin1'), 16);
    if (!(size > 0)) break;
    out.push(buf.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(out);
}

describe('the app going away', () => {
  it('an app that is down answers 502 JSON, and the sidecar serves again once the app is back', async () => {
    const token = await world.issuer.token();
    await world.app.stop();
    try {
      const down = await send(world.sidecar.proxyUrl, '/orders/while-down', { token });
      expect(down.status).toBe(502);
      expect(down.headers['content-type']).toBe('application/json');
      expect(down.json()).toEqual({
        error: 'bad_gateway',
        error_description: 'the application did not answer',
      });
    } finally {
      await world.app.start();
    }
    const { elapsedMs } = await waitFor(
      'the sidecar to reach the app again',
      async () => (await send(world.sidecar.proxyUrl, '/orders/after-down', { token })).status === 200,
      5_000,
    );
    expect(elapsedMs).toBeLessThan(5_000);
  });

  it('no metric label value holds a sub or a jti of a token sent so far, or a token', async () => {
    const { subs, jtis } = identities();
    expect(await leakyLabels(world.sidecar.adminUrl, [...subs, ...jtis])).toEqual([]);
  });

  it('no log line of any sidecar so far holds a token or a signature sent so far', async () => {
    await sleep(200);
    const { leaks, secrets } = tokenLeaks();
    expect(secrets).toBeGreaterThan(10);
    expect(leaks).toEqual([]);
  });
});
