/** The sidecar's app probes against a real HTTP server on 127.0.0.1 that records what it gets. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_PROBES_ENV } from '../../../src/core/app-probes.js';
import { serveAppProbes } from '../../../src/sidecar/probes.js';

const seen: { url: string; headers: http.IncomingHttpHeaders }[] = [];
let appStatus = 200;
const app = http.createServer((req, res) => {
  seen.push({ url: req.url ?? '', headers: req.headers });
  res.writeHead(appStatus).end('app');
});
const admin = http.createServer((_req, res) => res.writeHead(299).end('own route'));
let adminPort = 0;

beforeAll(async () => {
  await new Promise<void>((ok) => app.listen(0, '127.0.0.1', ok));
  const port = (app.address() as AddressInfo).port;
  const probes = {
    'app/readyz': {
      path: '/ready?x=1',
      port,
      scheme: 'HTTP',
      headers: [{ name: 'X-Probe', value: 'v' }],
      timeoutSeconds: 2,
    },
    'app/livez': { path: '/live', port: 1, scheme: 'HTTP', headers: [], timeoutSeconds: 1 },
  };
  serveAppProbes(admin, { [APP_PROBES_ENV]: JSON.stringify(probes) });
  await new Promise<void>((ok) => admin.listen(0, '127.0.0.1', ok));
  adminPort = (admin.address() as AddressInfo).port;
});
afterAll(() => {
  app.close();
  admin.close();
});

const get = async (path: string, headers: Record<string, string> = {}) => {
  const r = await fetch(`http://127.0.0.1:${adminPort}${path}`, { headers });
  return { status: r.status, body: await r.text() };
};

describe('serveAppProbes', () => {
  it("runs exactly the stored probe: its path and headers, never the request's", async () => {
    seen.length = 0;
    appStatus = 204;
    const r = await get('/app-health/app/readyz?evil=1', {
      'x-forwarded-host': 'evil',
      authorization: 'Bearer x',
    });
    expect(r.status).toBe(200);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.url).toBe('/ready?x=1');
    expect(seen[0]!.headers['x-probe']).toBe('v');
    expect(seen[0]!.headers.authorization).toBeUndefined();
    expect(seen[0]!.headers['x-forwarded-host']).toBeUndefined();
  });

  it('answers 503 when the app fails or is unreachable, 404 for an unknown probe', async () => {
    appStatus = 500;
    expect((await get('/app-health/app/readyz')).status).toBe(503);
    expect((await get('/app-health/app/livez')).status).toBe(503);
    expect((await get('/app-health/app/startupz')).status).toBe(404);
    expect((await get('/app-health/app/readyz/extra')).status).toBe(404);
  });

  it("leaves the admin server's own routes alone", async () => {
    expect(await get('/metrics')).toEqual({ status: 299, body: 'own route' });
  });

  it('refuses a malformed variable at start, naming the field', () => {
    const s = http.createServer();
    expect(() => serveAppProbes(s, { [APP_PROBES_ENV]: '{"app/readyz":{"path":"x"}}' })).toThrow(/\.path/);
  });
});
