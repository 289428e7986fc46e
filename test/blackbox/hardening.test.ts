/**
 * The first security review re-run (ADR 0007): the real sidecar (dist/), raw sockets in front, the
 * recording app behind. Each block is one class of finding; each test would have failed before
 * the fix (the app would have received the request, or the refusal would have been invisible).
 */
import { describe, expect, it } from 'vitest';
import { raw, requestText, send } from './support/http.js';
import { waitFor } from '../support/wait.js';
import { hardeningWorld, refusals } from './support/hardening.js';

const world = hardeningWorld('hardening');

describe('point 3: paths the app would read differently are refused, never forwarded', () => {
  const forms = [
    '/admin#x',
    '/admin;/x',
    '/admin;x=1/y',
    '/admin%3B/x',
    '/admin./x',
    '/admin%20/x',
    '/%252e%252e/admin/x',
    '/%C0%AE%C0%AE/admin/x',
    '/admin%EF%BC%8E/x',
    '/public/%EF%BC%8E%EF%BC%8E/admin/x',
  ];
  it.each(forms)('%s answers 400 and never reaches the app', async (target) => {
    const token = await world.issuer.token();
    const before = world.app.received.length;
    const res = await raw(
      world.sidecar.proxyPort,
      requestText([
        `GET ${target} HTTP/1.1`,
        'host: a',
        `authorization: Bearer ${token}`,
        'connection: close',
      ]),
    );
    expect(res.status).toBe(400);
    expect(world.app.received.length).toBe(before);
  });

  it('/ADMIN/x is not /admin/x unless the policy says paths are case-insensitive', async () => {
    const res = await send(world.sidecar.proxyUrl, '/ADMIN/x', { token: await world.issuer.token() });
    expect(res.status).toBe(200); // the rules are case-sensitive by default: a different path
    expect(world.app.receivedFor('/ADMIN/x')[0]?.url).toBe('/ADMIN/x');
  });
});

describe('point 2 and 7: what the app receives', () => {
  it('drops _ headers and never forwards an unverified bearer token or access_token on an Allow path', async () => {
    const res = await raw(
      world.sidecar.proxyPort,
      requestText([
        'GET /public/p2?access_token=forged&x=1 HTTP/1.1',
        'host: a',
        'authorization: Bearer forged.token.value',
        'X_Auth_Subject: admin',
        'x-forwarded-for: 203.0.113.9',
        'x-real-ip: 203.0.113.9',
        'connection: close',
      ]),
    );
    expect(res.status).toBe(200);
    const got = world.app.receivedFor('/public/p2')[0]!;
    expect(got.url).toBe('/public/p2?x=1');
    expect(got.headers.authorization).toBeUndefined();
    expect(got.rawHeaders.some((h) => h.toLowerCase() === 'x_auth_subject')).toBe(false);
    expect(got.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(got.headers['x-real-ip']).toBe('127.0.0.1');
  });

  it('does not forward the verified token either, by default', async () => {
    const res = await send(world.sidecar.proxyUrl, '/orders/p7', { token: await world.issuer.token() });
    expect(res.status).toBe(200);
    expect(world.app.receivedFor('/orders/p7')[0]?.headers.authorization).toBeUndefined();
  });
});

describe('point 4 and 5: protocol refusals are answered, counted and logged', () => {
  it.each([
    { name: 'two Host headers', lines: ['GET /public/h HTTP/1.1', 'host: a', 'host: b'], status: 400 },
    { name: 'a Host with @', lines: ['GET /public/h HTTP/1.1', 'host: user@evil'], status: 400 },
    { name: 'a Host with /', lines: ['GET /public/h HTTP/1.1', 'host: a/b'], status: 400 },
    {
      name: 'a GET with a body',
      lines: ['GET /public/h HTTP/1.1', 'host: a', 'content-length: 5'],
      body: 'hello',
      status: 400,
    },
    {
      name: 'more than 100 header fields',
      lines: ['GET /public/h HTTP/1.1', 'host: a', ...Array.from({ length: 120 }, (_, i) => `x-h${i}: 1`)],
      status: 431,
    },
  ])('$name: $status, the app never sees it, the refusal is counted', async ({ lines, body, status }) => {
    const reason = status === 431 ? 'header_too_large' : 'malformed_http';
    const before = await refusals(world, reason);
    const seen = world.app.received.length;
    const res = await raw(world.sidecar.proxyPort, requestText([...lines, 'connection: close'], body));
    expect(res.status).toBe(status);
    expect(world.app.received.length).toBe(seen);
    await waitFor('counted', async () => (await refusals(world, reason)) > before, 2_000);
  });

  it('CONNECT gets an answer (405) and is counted as upgrade_refused', async () => {
    const before = await refusals(world, 'upgrade_refused');
    const res = await raw(
      world.sidecar.proxyPort,
      requestText(['CONNECT 127.0.0.1:22 HTTP/1.1', 'host: 127.0.0.1:22']),
    );
    expect(res.status).toBe(405);
    expect(await refusals(world, 'upgrade_refused')).toBeGreaterThan(before);
  });

  it('a parser refusal (bare LF) is counted as malformed_http and logged', async () => {
    const before = await refusals(world, 'malformed_http');
    const res = await raw(world.sidecar.proxyPort, 'GET /public/x HTTP/1.1\nhost: a\n\n');
    expect(res.status).toBe(400);
    expect(await refusals(world, 'malformed_http')).toBeGreaterThan(before);
    expect(world.sidecar.logs()).toContain('enforced in every mode');
  });

  it('a request head that never completes gets 408 and is counted as timeout', async () => {
    const before = await refusals(world, 'timeout');
    const res = await raw(world.sidecar.proxyPort, 'GET /public/slow HTTP/1.1\r\nhost: a\r\n', 8_000);
    expect(res.status).toBe(408);
    expect(await refusals(world, 'timeout')).toBeGreaterThan(before);
  });

  it('Expect: 100-continue gets no 100 when the request is refused, and 100 before forwarding', async () => {
    const refused = await raw(
      world.sidecar.proxyPort,
      requestText([
        'POST /admin/x HTTP/1.1',
        'host: a',
        'expect: 100-continue',
        'content-length: 5',
        'connection: close',
      ]),
    );
    expect(refused.status).not.toBe(100);
    expect(refused.raw).not.toContain('100 Continue');
    const allowed = await raw(
      world.sidecar.proxyPort,
      requestText([
        'POST /public/e HTTP/1.1',
        'host: a',
        'expect: 100-continue',
        'content-length: 5',
        'connection: close',
      ]),
    );
    expect(allowed.status).toBe(100);
  });
});

describe('point 6 and 8: one identity, tokens that end', () => {
  it.each([
    { name: 'an array sub', claims: { sub: ['admin'] } },
    { name: 'a numeric sub', claims: { sub: 42 } },
    { name: 'a numeric jti', claims: { jti: 7 } },
    { name: 'exp 1e300', claims: { exp: 1e300 } },
  ])('$name is refused 401 invalid_token and never forwarded', async ({ claims }) => {
    const seen = world.app.received.length;
    const res = await send(world.sidecar.proxyUrl, '/orders/p6', {
      token: await world.issuer.signRaw(world.issuer.claims(claims)),
    });
    expect(res.status).toBe(401);
    expect(String(res.headers['www-authenticate'])).toContain('invalid_token');
    expect(world.app.received.length).toBe(seen);
  });
});
