/**
 * What crosses the sidecar and what does not, in the head: smuggling shapes and oversized or
 * non-ASCII heads are refused without taking the sidecar down, claim headers come only from
 * verified claims, hop-by-hop headers stop at the sidecar.
 */
import { describe, expect, it } from 'vitest';
import { REALM } from './support/cases.js';
import { raw, rawGet, requestText, send } from './support/http.js';
import { requestsDelta } from './support/metrics.js';
import { POLICY_NAME } from './support/policy.js';
import { forwardingWorld, stillServing } from './support/forwarding.js';

const world = forwardingWorld('forwarding');

describe('request smuggling shapes and hostile heads', () => {
  it('Content-Length together with Transfer-Encoding is refused with 400 and never reaches the app', async () => {
    const token = await world.issuer.token();
    const res = await raw(
      world.sidecar.proxyPort,
      requestText(
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
    await stillServing(world);
  });

  it.each([
    { name: 'two differing Content-Length headers', values: ['5', '6'] },
    { name: 'two equal Content-Length headers', values: ['5', '5'] },
  ])('$name are refused with 400 and never reach the app', async ({ values }) => {
    const res = await raw(
      world.sidecar.proxyPort,
      requestText(
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
    await stillServing(world);
  });

  it('a Transfer-Encoding other than plain chunked is refused 400 invalid_request, counted deny/malformed', async () => {
    let res: Awaited<ReturnType<typeof raw>> | undefined;
    const moved = await requestsDelta(world.sidecar.adminUrl, async () => {
      res = await raw(
        world.sidecar.proxyPort,
        requestText(
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
    await stillServing(world);
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
      await stillServing(world);
    },
  );

  it('an Upgrade (WebSocket) request is answered 501 and never forwarded', async () => {
    const res = await raw(
      world.sidecar.proxyPort,
      requestText([
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
      requestText([
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
      requestText([
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
