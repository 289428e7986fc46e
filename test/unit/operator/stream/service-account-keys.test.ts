import { KubeConfig } from '@kubernetes/client-node';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { apiCaller } from '../../../../src/operator/runtime/api-call.js';
import {
  DISCOVERY_PATH,
  JWKS_PATH,
  ServiceAccountKeys,
} from '../../../../src/operator/stream/service-account-keys.js';
import { until } from '../../../support/wait.js';
import { ecKey, jws } from '../../../support/tokens.js';

const ISSUER = 'https://kubernetes.default.svc.cluster.local';
const log = pino({ level: 'silent' });

/** A real HTTP server answering like the API server's issuer discovery (406 without the JWKS type). */
async function issuerServer(state: { keys: object[]; down: boolean; requests: string[] }) {
  const server: Server = createServer((req, res) => {
    state.requests.push(req.url ?? '');
    const json = (type: string, body: unknown) =>
      res.writeHead(200, { 'content-type': type }).end(JSON.stringify(body));
    if (state.down) res.writeHead(503).end();
    else if (req.url === DISCOVERY_PATH)
      json('application/json', { issuer: ISSUER, jwks_uri: `${ISSUER}/openid/v1/jwks` });
    else if (req.url !== JWKS_PATH) res.writeHead(404).end();
    else if (!(req.headers.accept ?? '').includes('application/jwk-set+json')) res.writeHead(406).end();
    else json('application/jwk-set+json', { keys: state.keys });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [
      {
        name: 'c',
        server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        skipTLSVerify: true,
      },
    ],
    users: [{ name: 'u', token: 'operator-token' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return { server, call: apiCaller(kc) };
}

const k1 = ecKey('k1');
const k2 = ecKey('k2');
const podToken = (kid: string, key = k1.privateKey) =>
  jws(
    { alg: 'ES256', kid },
    {
      iss: ISSUER,
      aud: ['tokenwarden'],
      sub: 'system:serviceaccount:shop:orders',
      exp: Math.floor(Date.now() / 1000) + 600,
      'kubernetes.io': {
        namespace: 'shop',
        pod: { name: 'orders-1', uid: 'u-1' },
        serviceaccount: { name: 'orders', uid: 'sa-u' },
      },
    },
    key,
  );

describe('ServiceAccountKeys', () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => cleanups.splice(0).forEach((c) => c()));

  it('leaves every token undecided until the first fetch, then decides with the keys fetched', async () => {
    const state = { keys: [k1.jwk], down: false, requests: [] as string[] };
    const { server, call } = await issuerServer(state);
    const keys = new ServiceAccountKeys({ call, log });
    cleanups.push(() => (keys.stop(), server.close()));
    expect(keys.check(podToken('k1'))).toEqual({ ok: 'undecided', why: 'unknown_key' });
    keys.start();
    await until('the first fetch', () => keys.trust !== undefined);
    expect(keys.trust?.issuer).toBe(ISSUER);
    expect(keys.check(podToken('k1'))).toMatchObject({ ok: true, serviceAccount: 'orders' });
    expect(keys.check(podToken('k1', k2.privateKey))).toMatchObject({ ok: false, status: 401 });
  });

  it('refetches at once for an unknown kid (a rotation), at most once per interval', async () => {
    let now = 1_000_000;
    const state = { keys: [k1.jwk], down: false, requests: [] as string[] };
    const { server, call } = await issuerServer(state);
    const keys = new ServiceAccountKeys({ call, log, minRefetchMs: 10_000, now: () => now });
    cleanups.push(() => (keys.stop(), server.close()));
    await keys.refresh();
    state.keys = [k1.jwk, k2.jwk];
    const before = state.requests.length;
    now += 10_000;
    expect(keys.check(podToken('k2', k2.privateKey))).toEqual({ ok: 'undecided', why: 'unknown_key' });
    await until('the refetch', () => keys.trust?.keys.entries.length === 2);
    expect(keys.check(podToken('k2', k2.privateKey))).toMatchObject({ ok: true });
    // A flood of unknown kids costs one fetch per interval, not one per token.
    const after = state.requests.length;
    for (let i = 0; i < 50; i++) keys.check(podToken(`nope-${i}`));
    await keys.refresh().catch(() => undefined);
    expect(state.requests.length - after).toBe(2); // the explicit refresh above, discovery + jwks
    expect(after - before).toBe(2);
  });

  it('keeps the last good keys when the API server stops answering', async () => {
    const state = { keys: [k1.jwk], down: false, requests: [] as string[] };
    const { server, call } = await issuerServer(state);
    const keys = new ServiceAccountKeys({ call, log });
    cleanups.push(() => (keys.stop(), server.close()));
    await keys.refresh();
    state.down = true;
    await keys.refresh();
    expect(keys.check(podToken('k1'))).toMatchObject({ ok: true });
  });
});
