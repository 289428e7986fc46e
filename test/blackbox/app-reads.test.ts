/**
 * What the app reads differently (ADR 0015): the real sidecar (dist/), raw sockets in front, the
 * recording app behind. Each block is a class: header names the app reads as another name,
 * method overrides and method rules, rewrite headers, Host values, token parameters as
 * frameworks read them, client-address headers from untrusted peers, malformed Authorization.
 * Every test would fail on the code before it: the app would have received what it asserts
 * the app never gets.
 */
import { describe, expect, it } from 'vitest';
import { raw } from './support/http.js';
import { policyDoc } from './support/policy.js';
import { useWorld } from './support/world.js';

const world = useWorld({
  name: 'app-reads',
  policy: (issuer) =>
    policyDoc(issuer, {
      rules: [
        { name: 'public', paths: ['/public/*'], action: 'Allow' },
        { name: 'no-delete', paths: ['/orders/*'], methods: ['DELETE'], action: 'Deny' },
        { name: 'no-read', paths: ['/secret/*'], methods: ['GET'], action: 'Deny' },
        { name: 'no-dav', paths: ['/dav/*'], methods: ['PROPFIND', 'SEARCH'], action: 'Deny' },
      ],
      forwardClaims: [{ claim: 'sub', header: 'X-Auth-Subject' }],
      expiry: { maxLifetimeSeconds: 3600 },
    }),
});

let seq = 0;
/** A request on its own path, so what the app got is found by that path. */
async function exchange(method: string, path: string, lines: string[], host = 'host: a') {
  const unique = `${path}${path.includes('?') ? '&' : '?'}n=${++seq}`;
  const head = [
    `${method} ${unique} HTTP/1.1`,
    ...(host === '' ? [] : [host]),
    ...lines,
    'connection: close',
  ];
  const res = await raw(world.sidecar.proxyPort, `${head.join('\r\n')}\r\n\r\n`);
  const got = world.app.received.find((r) => r.url.includes(`n=${seq}`));
  return { status: res.status, got };
}

const cgi = (name: string): string => name.toLowerCase().replace(/[^a-z0-9]/g, '_');

describe('header names the app reads as another name are dropped', () => {
  it.each(['X.Auth.Subject', 'x~auth~subject', 'X-Auth.Subject', "x'auth'subject"])(
    '%s: admin never reaches the app as X-Auth-Subject',
    async (name) => {
      const { status, got } = await exchange('GET', '/public/lookalike', [`${name}: admin`]);
      expect(status).toBe(200);
      const names = got!.rawHeaders.filter((_, i) => i % 2 === 0);
      expect(names.filter((n) => cgi(n) === 'x_auth_subject')).toEqual([]);
    },
  );
});

describe('method overrides and method rules', () => {
  it.each([
    'X-HTTP-Method-Override: DELETE',
    'X-HTTP-Method: DELETE',
    'X-Method-Override: delete',
    'X.HTTP.Method.Override: DELETE',
  ])('POST with %s is refused 400 before the app', async (line) => {
    const token = await world.issuer.token();
    const { status, got } = await exchange('POST', '/orders/o1', [line, `authorization: Bearer ${token}`]);
    expect(status).toBe(400);
    expect(got).toBeUndefined();
  });

  it.each(['?_method=DELETE', '?_METHOD=delete', '?_method[]=DELETE', '?.method=DELETE'])(
    'POST %s is refused 400 before the app',
    async (query) => {
      const token = await world.issuer.token();
      const { status, got } = await exchange('POST', `/orders/o2${query}`, [
        `authorization: Bearer ${token}`,
      ]);
      expect(status).toBe(400);
      expect(got).toBeUndefined();
    },
  );

  it('an override naming the request method itself changes nothing and passes', async () => {
    const token = await world.issuer.token();
    const { status } = await exchange('POST', '/orders/o3', [
      'X-HTTP-Method-Override: POST',
      `authorization: Bearer ${token}`,
    ]);
    expect(status).toBe(200);
  });

  it('a Deny on GET refuses HEAD', async () => {
    const { status, got } = await exchange('HEAD', '/secret/s', [
      `authorization: Bearer ${await world.issuer.token()}`,
    ]);
    expect(status).toBe(403);
    expect(got).toBeUndefined();
  });

  it.each(['PROPFIND', 'SEARCH'])(
    'an extension method named in a Deny rule (%s) is refused',
    async (method) => {
      const { status, got } = await exchange(method, '/dav/d', [
        `authorization: Bearer ${await world.issuer.token()}`,
      ]);
      expect(status).toBe(403);
      expect(got).toBeUndefined();
    },
  );

  it('an extension method not named by a method-limited Allow-free path still needs a token', async () => {
    const { status, got } = await exchange('PROPPATCH', '/dav/d', []);
    expect(status).toBe(401);
    expect(got).toBeUndefined();
  });
});

describe('rewrite and client-address headers', () => {
  it('X-Original-URL and X-Rewrite-URL (any spelling) never reach the app', async () => {
    const { got } = await exchange('GET', '/public/rw', [
      'X-Original-URL: /admin',
      'X-Rewrite-URL: /admin',
      'X-Original-URI: /admin',
    ]);
    const keys = got!.rawHeaders.filter((_, i) => i % 2 === 0).map(cgi);
    expect(keys.filter((k) => /original_ur|rewrite_url/.test(k))).toEqual([]);
  });

  it('client-address and forwarded-* headers from an untrusted peer never reach the app', async () => {
    const sent = [
      'Client-IP',
      'True-Client-IP',
      'X-Client-IP',
      'CF-Connecting-IP',
      'X-Forwarded-Port',
      'X-Forwarded-Prefix',
      'X-Forwarded-Ssl',
      'X-Forwarded-Scheme',
      'X-Cluster-Client-IP',
      'Front-End-Https',
    ];
    const { got } = await exchange(
      'GET',
      '/public/ip',
      sent.map((n) => `${n}: 203.0.113.7`),
    );
    for (const name of sent) expect(got!.headers[name.toLowerCase()], name).toBeUndefined();
    expect(got!.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(JSON.stringify(got!.headers)).not.toContain('203.0.113.7');
  });
});

describe('Host values outside host[:port] are refused', () => {
  it.each(['host: a"b', 'host: a,b', 'host: a%2Fadmin', 'host:', 'host: a:', 'host: a:99999', 'host: [::1'])(
    '%s: 400, the app never sees it',
    async (host) => {
      const { status, got } = await exchange('GET', '/public/host', [], host);
      expect(status).toBe(400);
      expect(got).toBeUndefined();
    },
  );

  it.each(['host: a.example:8080', 'host: [::1]:80', 'host: 10.0.0.1'])('%s is forwarded', async (host) => {
    const { status } = await exchange('GET', '/public/host', [], host);
    expect(status).toBe(200);
  });
});

describe('token parameters, as frameworks read them', () => {
  it.each([
    'access.token',
    'Access_token',
    'ACCESS_TOKEN',
    'access_token[]',
    'access%5Ftoken',
    'access token',
  ])('?%s=<token> on a protected path is refused 400', async (name) => {
    const token = await world.issuer.token();
    const { status, got } = await exchange('GET', `/orders/q?${name.replace(' ', '+')}=${token}`, []);
    expect(status).toBe(400);
    expect(got).toBeUndefined();
  });

  it('on an Allow path every spelling is removed before the app, the rest of the query kept', async () => {
    const token = await world.issuer.token();
    const { got } = await exchange(
      'GET',
      `/public/q?a=1&access.token=${token}&Access_token=${token}&access_token[]=${token};access_token=${token}&b=2`,
      [],
    );
    expect(got!.url).not.toContain(token);
    expect(got!.url).toMatch(/^\/public\/q\?a=1&b=2&n=\d+$/);
  });

  it('/x;access_token=<token> never reaches the app', async () => {
    const token = await world.issuer.token();
    const { status, got } = await exchange('GET', `/public/p;access_token=${token}`, []);
    expect(status).toBe(400);
    expect(got).toBeUndefined();
  });
});

describe('malformed Authorization values are refused on every path', () => {
  it.each(['Bearer,abc', 'Bearerabc', 'Basic,Bearer abc', 'Bearer\tabc'])(
    'Authorization: %s on an Allow path is refused 400',
    async (value) => {
      const { status, got } = await exchange('GET', '/public/auth', [`authorization: ${value}`]);
      expect(status).toBe(400);
      expect(got).toBeUndefined();
    },
  );

  it('other schemes in valid syntax still pass to the app', async () => {
    const { status, got } = await exchange('GET', '/public/auth', ['authorization: Basic dXNlcjpwYXNz']);
    expect(status).toBe(200);
    expect(got!.headers.authorization).toBe('Basic dXNlcjpwYXNz');
  });
});
