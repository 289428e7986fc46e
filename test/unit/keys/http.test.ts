import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJson, keySourceUrlProblem, type HttpOptions } from '../../../src/keys/http.js';
import { startServer, type TestServer } from './server.js';

describe('keySourceUrlProblem', () => {
  const cases: { name: string; url: string; ok: boolean; problem?: string }[] = [
    { name: 'https is allowed', url: 'https://auth.example.com/jwks', ok: true },
    { name: 'http to 127.0.0.1 is allowed', url: 'http://127.0.0.1:8080/jwks', ok: true },
    { name: 'http to 127.x.y.z is allowed', url: 'http://127.1.2.3/jwks', ok: true },
    { name: 'http to localhost is allowed', url: 'http://localhost:9000/jwks', ok: true },
    { name: 'http to [::1] is allowed', url: 'http://[::1]:9000/jwks', ok: true },
    { name: 'http to another host is refused', url: 'http://auth.example.com/jwks', ok: false },
    {
      name: 'http to a host named like loopback is refused',
      url: 'http://127.0.0.1.evil.example/jwks',
      ok: false,
    },
    { name: 'http to localhost.evil is refused', url: 'http://localhost.evil.example/jwks', ok: false },
    { name: 'file: is refused', url: 'file:///etc/passwd', ok: false },
    { name: 'a relative path is refused', url: '../../etc/passwd', ok: false, problem: 'is not a URL' },
  ];
  it.each(cases)('$name', ({ url, ok, problem }) => {
    expect(keySourceUrlProblem(url)).toBe(
      ok ? undefined : (problem ?? 'must be an https URL, or http to a loopback host'),
    );
  });
});

describe('getJson', () => {
  let server: TestServer;
  const opts: HttpOptions = {
    fetch: (i, init) => globalThis.fetch(i, init),
    timeoutMs: 5_000,
    maxBytes: 1024,
  };

  beforeAll(async () => {
    server = await startServer();
    server.routes.set('/ok', () => ({ body: { keys: [] }, headers: { etag: '"v1"' } }));
    server.routes.set('/etag', (req) =>
      req.headers['if-none-match'] === '"v1"'
        ? { status: 304 }
        : { body: { a: 1 }, headers: { etag: '"v1"' } },
    );
    server.routes.set('/big', () => ({ body: 'x'.repeat(2048) }));
    server.routes.set('/big-chunked', () => ({ body: `"${'x'.repeat(200_000)}"`, chunked: true }));
    server.routes.set('/slow', () => ({ body: {}, delayMs: 2_000 }));
    server.routes.set('/500', () => ({ status: 500, body: {} }));
    server.routes.set('/html', () => ({ body: '<html>' }));
    server.routes.set('/redirect', () => ({ status: 302, headers: { location: '/ok' } }));
  });
  afterAll(() => server.close());

  const cases: { name: string; path: string; etag?: string; timeoutMs?: number; want: unknown }[] = [
    {
      name: 'returns the JSON body and its etag',
      path: '/ok',
      want: { ok: true, notModified: false, body: { keys: [] }, etag: '"v1"' },
    },
    {
      name: 'answers notModified on a 304 to a conditional GET',
      path: '/etag',
      etag: '"v1"',
      want: { ok: true, notModified: true },
    },
    {
      name: 'refuses a declared size above the cap',
      path: '/big',
      want: { ok: false, error: expect.stringContaining('above the 1024 byte limit') },
    },
    {
      name: 'refuses a streamed body above the cap',
      path: '/big-chunked',
      want: { ok: false, error: expect.stringContaining('more than 1024 bytes') },
    },
    {
      name: 'times out',
      path: '/slow',
      timeoutMs: 300,
      want: { ok: false, error: expect.stringContaining('timed out after 300ms') },
    },
    {
      name: 'refuses a non-200 status',
      path: '/500',
      want: { ok: false, error: expect.stringContaining('HTTP 500') },
    },
    {
      name: 'refuses a body that is not JSON',
      path: '/html',
      want: { ok: false, error: expect.stringContaining('did not answer JSON') },
    },
    {
      name: 'does not follow redirects',
      path: '/redirect',
      want: { ok: false, error: expect.stringContaining('HTTP 302') },
    },
  ];

  it.each(cases)('$name', async ({ path, etag, timeoutMs, want }) => {
    const o = timeoutMs === undefined ? opts : { ...opts, timeoutMs };
    expect(await getJson(`${server.origin}${path}`, o, etag)).toEqual(want);
  });

  it('never fetches a URL that breaks the https rule', async () => {
    let calls = 0;
    const counting: HttpOptions = { ...opts, fetch: (i, init) => (calls++, globalThis.fetch(i, init)) };
    const got = await getJson('http://auth.example.com/jwks', counting);
    expect(got).toEqual({ ok: false, error: expect.stringContaining('must be an https URL') });
    expect(calls).toBe(0);
  });

  it('reports a refused connection as a value', async () => {
    const gone = await startServer();
    const url = `${gone.origin}/ok`;
    await gone.close();
    expect(await getJson(url, opts)).toEqual({ ok: false, error: expect.stringContaining('failed') });
  });
});
