/**
 * What crosses the sidecar and what does not: smuggling shapes and oversized or non-ASCII heads
 * are refused without taking the sidecar down, claim headers come only from verified claims,
 * hop-by-hop headers stop at the sidecar, bodies stream both ways, and an app that is down
 * answers 502 until it is back.
 */
import { createHash, randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { bigBody, chunkedBody } from './support/app.js';
import { REALM } from './support/cases.js';
import { raw, rawGet, send } from './support/http.js';
import { identities, tokenLeaks } from './support/ledger.js';
import { leakyLabels, requestsDelta } from './support/metrics.js';
import { POLICY_NAME, policyDoc } from './support/policy.js';
import { useWorld } from './support/world.js';
import { waitFor } from '../support/wait.js';

const world = useWorld({
  name: 'forwarding',
  policy: (issuer) =>
    policyDoc(issuer, {
      rules: [{ name: 'public', paths: ['/public/*'], action: 'Allow' }],
      forwardClaims: [
        { claim: 'sub', header: 'X-Auth-Subject' },
        { claim: 'scope', header: 'X-Auth-Scope' },
      ],
    }),
});

/** The sidecar still answers an ordinary request after whatever a test threw at it. */
async function stillServing(): Promise<void> {
  const res = await send(world.sidecar.proxyUrl, '/orders/still-serving', {
    token: await world.issuer.token(),
  });
  expect(res.status).toBe(200);
}

const request = (lines: string[], body = ''): string => `${lines.join('\r\n')}\r\n\r\n${body}`;

describe('request smuggling shapes and hostile heads', () => {
  it('Content-Length together with Transfer-Encoding is refused with 400 and never reaches the app', async () => {
    const token = await world.issuer.token();
    const res = await raw(
      world.sidecar.proxyPort,
      request(
        [
          'POST /orders/cl-te HTTP/1.1',
          'host: 127.0.0.1',
          `authorization: Bearer ${token}`,
          'content-length: 4',
          'transfer-encoding: chunked',
          'connection: close',
        ],
        '0\r\n\r\nGET /orders/smuggled HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n',
      ),
    );
    expect(res.status).toBe(400);
    expect(world.app.receivedFor('/orders/cl-te')).toHaveLength(0);
    expect(world.app.receivedFor('/orders/smuggled')).toHaveLength(0);
    await stillServing();
  });

  it.each([
    { name: 'two differing Content-Length headers', values: ['5', '6'] },
    { name: 'two equal Content-Length headers', values: ['5', '5'] },
  ])('$name are refused with 400 and never reach the app', async ({ values }) => {
    const res = await raw(
      world.sidecar.proxyPort,
      request(
        [
          'POST /orders/dup-cl HTTP/1.1',
          'host: 127.0.0.1',
          `authorization: Bearer ${await world.issuer.token()}`,
          ...values.map((v) => `content-length: ${v}`),
          'connection: close',
        ],
        'hello!',
      ),
    );
    expect(res.status).toBe(400);
    expect(world.app.receivedFor('/orders/dup-cl')).toHaveLength(0);
    await stillServing();
  });

  it('a Transfer-Encoding other than plain chunked is refused 400 invalid_request, counted deny/malformed', async () => {
    let res: Awaited<ReturnType<typeof raw>> | undefined;
    const moved = await requestsDelta(world.sidecar.adminUrl, async () => {
      res = await raw(
        world.sidecar.proxyPort,
        request(
          [
            'POST /orders/te-gzip HTTP/1.1',
            'host: 127.0.0.1',
            `authorization: Bearer ${await world.issuer.token()}`,
            'transfer-encoding: gzip, chunked',
            'connection: close',
          ],
          '0\r\n\r\n',
        ),
      );
    });
    expect(moved).toEqual({ [`${POLICY_NAME}/deny/malformed`]: 1 });
    expect(res?.status).toBe(400);
    expect(res?.header('www-authenticate')).toBe(
      `${REALM}, error="invalid_request", error_description="only Transfer-Encoding: chunked is accepted"`,
    );
    expect(world.app.receivedFor('/orders/te-gzip')).toHaveLength(0);
  });

  it('a 64 KiB header answers 431 and the sidecar keeps serving afterwards', async () => {
    const res = await rawGet(world.sidecar.proxyPort, '/orders/big-head', [
      `x-padding: ${'a'.repeat(64 * 1024)}`,
    ]);
    expect(res.status).toBe(431);
    expect(world.app.receivedFor('/orders/big-head')).toHaveLength(0);
    await stillServing();
  });

  it.each([
    { name: 'UTF-8 bytes', bytes: [0xc3, 0xa9, 0x41] },
    { name: 'a lone 0xFF byte', bytes: [0x41, 0xff, 0x42] },
    { name: 'bytes inside a real token', bytes: [0x65, 0x79, 0x80, 0x4a] },
  ])(
    'non-ASCII in Authorization ($name) is refused as invalid_request without a crash',
    async ({ bytes }) => {
      const head = Buffer.concat([
        Buffer.from('GET /orders/non-ascii HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer '),
        Buffer.from(bytes),
        Buffer.from('\r\nconnection: close\r\n\r\n'),
      ]);
      const res = await raw(world.sidecar.proxyPort, head);
      expect([400, 401]).toContain(res.status);
      expect(res.header('www-authenticate') ?? '').toMatch(/^Bearer realm="tokenwarden"/);
      expect(world.app.receivedFor('/orders/non-ascii')).toHaveLength(0);
      await stillServing();
    },
  );

  it('an Upgrade (WebSocket) request is answered 501 and never forwarded', async () => {
    const res = await raw(
      world.sidecar.proxyPort,
      request([
        'GET /orders/ws HTTP/1.1',
        'host: 127.0.0.1',
        `authorization: Bearer ${await world.issuer.token()}`,
        'connection: Upgrade',
        'upgrade: websocket',
        'sec-websocket-version: 13',
        'sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==',
      ]),
    );
    expect(res.status).toBe(501);
    expect(world.app.receivedFor('/orders/ws')).toHaveLength(0);
  });
});

describe('headers the app receives', () => {
  it('a forwarded claim header is set from the verified claim, replacing the client copy (Authenticate path)', async () => {
    const res = await raw(
      world.sidecar.proxyPort,
      request([
        'GET /orders/claims HTTP/1.1',
        'host: 127.0.0.1',
        `authorization: Bearer ${await world.issuer.token({ sub: 'user-verified', scope: 'orders:read' })}`,
        'x-auth-subject: user-forged',
        'X-Auth-Subject: user-forged-again',
        'x-auth-scope: orders:admin',
        'connection: close',
      ]),
    );
    expect(res.status).toBe(200);
    const got = world.app.receivedFor('/orders/claims')[0]!;
    expect(got.headers['x-auth-subject']).toBe('user-verified');
    expect(got.headers['x-auth-scope']).toBe('orders:read');
    const names = got.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
    expect(names.filter((n) => n === 'x-auth-subject')).toHaveLength(1);
  });

  it('a client copy of a claim header is removed when the token lacks that claim', async () => {
    const token = await world.issuer.token({ scope: undefined });
    await send(world.sidecar.proxyUrl, '/orders/no-scope-claim', {
      token,
      headers: { 'x-auth-scope': 'orders:admin' },
    });
    const got = world.app.receivedFor('/orders/no-scope-claim')[0]!;
    expect(got.headers['x-auth-scope']).toBeUndefined();
    expect(got.headers['x-auth-subject']).toBe('user-alice');
  });

  it('a client copy of a claim header is removed on an Allow path too', async () => {
    const res = await send(world.sidecar.proxyUrl, '/public/page', {
      headers: { 'x-auth-subject': 'user-forged', 'X-Auth-Scope': 'orders:admin' },
    });
    expect(res.status).toBe(200);
    const got = world.app.receivedFor('/public/page')[0]!;
    expect(got.headers['x-auth-subject']).toBeUndefined();
    expect(got.headers['x-auth-scope']).toBeUndefined();
  });

  it('hop-by-hop headers and the headers Connection names are not forwarded; end-to-end ones are', async () => {
    const res = await raw(
      world.sidecar.proxyPort,
      request([
        'GET /orders/hop HTTP/1.1',
        'host: 127.0.0.1',
        `authorization: Bearer ${await world.issuer.token()}`,
        'Connection: keep-alive, X-Hop-Secret, x-other-hop',
        'X-Hop-Secret: s3cret',
        'X-Other-Hop: 1',
        'Keep-Alive: timeout=5',
        'TE: trailers',
        'Trailer: X-Checksum',
        'Upgrade: h2c',
        'Proxy-Authorization: Basic dXNlcjpwYXNz',
        'Proxy-Connection: keep-alive',
        'X-End-To-End: kept',
      ]),
    );
    expect(res.status).toBe(200);
    const got = world.app.receivedFor('/orders/hop')[0]!;
    for (const name of [
      'x-hop-secret',
      'x-other-hop',
      'keep-alive',
      'te',
      'trailer',
      'upgrade',
      'proxy-authorization',
      'proxy-connection',
    ]) {
      expect(got.headers[name], name).toBeUndefined();
    }
    expect(got.headers['x-end-to-end']).toBe('kept');
  });

  it('hop-by-hop headers of the app response (those its Connection names) do not reach the client', async () => {
    const res = await send(world.sidecar.proxyUrl, '/orders/response-hop', {
      token: await world.issuer.token(),
    });
    expect(res.status).toBe(200);
    expect(res.headers['x-app-private']).toBeUndefined();
    expect(res.headers['content-type']).toBe('application/json');
  });

  it('headers named by two Connection lines of the app response do not reach the client', async () => {
    const res = await rawGet(world.sidecar.proxyPort, '/two-connection', [
      `authorization: Bearer ${await world.issuer.token()}`,
    ]);
    expect(res.status).toBe(200);
    expect(res.header('x-private-a')).toBeUndefined();
    expect(res.header('x-private-b')).toBeUndefined();
  });

  // The client's X-Forwarded-For used to be kept and extended; from a peer
  // outside spec.trustedProxies (none by default) it is replaced by the address the sidecar saw.
  it('X-Forwarded-For is the address the sidecar saw (untrusted peer) and X-Forwarded-Proto is set by the sidecar', async () => {
    await send(world.sidecar.proxyUrl, '/orders/xff-none', { token: await world.issuer.token() });
    await send(world.sidecar.proxyUrl, '/orders/xff-chain', {
      token: await world.issuer.token(),
      headers: { 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https' },
    });
    const none = world.app.receivedFor('/orders/xff-none')[0]!;
    const chain = world.app.receivedFor('/orders/xff-chain')[0]!;
    expect(none.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(none.headers['x-forwarded-proto']).toBe('http');
    expect(chain.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(chain.headers['x-forwarded-proto']).toBe('http');
  });
});

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
        request(
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
      await Promise.race([closed, new Promise((r) => setTimeout(r, 2_000))]);
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
      request([
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
      request([
        'GET /big?bytes=16777216 HTTP/1.1',
        'host: 127.0.0.1',
        `authorization: Bearer ${await world.issuer.token()}`,
      ]),
    );
    await waitFor('the client to hang up', () => socket.destroyed, 5_000);
    await stillServing();
    expect(world.sidecar.logs()).not.toContain('internal error');
  });

  it('a client that hangs up in the middle of an upload does not disturb the sidecar', async () => {
    const socket = connect(world.sidecar.proxyPort, '127.0.0.1');
    socket.on('error', () => undefined);
    socket.write(
      request(
        [
          'POST /orders/abandoned HTTP/1.1',
          'host: 127.0.0.1',
          `authorization: Bearer ${await world.issuer.token()}`,
          `content-length: ${1024 * 1024}`,
        ],
        'x'.repeat(16 * 1024),
      ),
    );
    await new Promise((r) => setTimeout(r, 200));
    socket.destroy();
    await stillServing();
    expect(world.app.receivedFor('/orders/abandoned').every((r) => r.bodyLength < 1024 * 1024)).toBe(true);
  });

  it('a HEAD request is forwarded and answered without a body', async () => {
    const res = await raw(
      world.sidecar.proxyPort,
      request([
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
      request(
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
    await new Promise((r) => setTimeout(r, 200));
    const { leaks, secrets } = tokenLeaks();
    expect(secrets).toBeGreaterThan(10);
    expect(leaks).toEqual([]);
  });
});
