/**
 * The receivers end to end without the API server: fastify inject() into the real plugin, an
 * EventReceiver with real keys, and an in-memory "API" that keeps created objects by name (as
 * the API server does: a second create of a name is AlreadyExists). Asserts each protocol's
 * status and body, what was created, and that the outcome counter moved.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { KeyStore } from '../../../../src/keys/store.js';
import { createOperatorMetrics, type OperatorMetrics } from '../../../../src/metrics/operator.js';
import { EventReceiver } from '../../../../src/operator/receivers/receiver.js';
import type { EventRevocation } from '../../../../src/operator/receivers/revocation.js';
import { receiverRoutes } from '../../../../src/operator/receivers/routes.js';
import {
  FORGER,
  IDP,
  NOW,
  keysFor,
  logoutClaims,
  logoutToken,
  receiverPolicy,
  setToken,
  without,
} from './support.js';

const policy = receiverPolicy();
let keys: KeyStore;
let app: FastifyInstance;
let metrics: OperatorMetrics;
let stored: Map<string, EventRevocation>;
let failWrites: boolean;
/** How many times the receiver asked for an issuer's keys, i.e. began a verification. */
let keyLookups: number;

beforeAll(async () => {
  keys = await keysFor(policy);
});
afterAll(() => keys.close());

beforeEach(async () => {
  stored = new Map();
  failWrites = false;
  keyLookups = 0;
  metrics = createOperatorMetrics(new Registry());
  const receiver = new EventReceiver({
    policy: (ns, name) => (ns === 'shop' && name === 'orders' ? policy : undefined),
    keys: () => {
      keyLookups++;
      return keys;
    },
    create: (r) => {
      if (failWrites)
        return Promise.reject(new Error('the server is currently unable to handle the request'));
      if (stored.has(r.metadata.name)) return Promise.resolve('exists');
      stored.set(r.metadata.name, r);
      return Promise.resolve('created');
    },
    metrics,
    log: pino({ level: 'silent' }),
    now: () => NOW * 1000,
    rate: { perSecond: 1, burst: 3, maxKeys: 8 },
    perPeer: { perSecond: 1, burst: 6, maxKeys: 8 },
    overall: { perSecond: 1, burst: 9, maxKeys: 1 },
  });
  app = Fastify();
  await app.register(receiverRoutes, { receiver });
  await app.ready();
});

const LOGOUT_URL = '/v1/receivers/shop/orders/backchannel-logout';
const SET_URL = '/v1/receivers/shop/orders/events';

function postLogout(
  body: string,
  type = 'application/x-www-form-urlencoded',
  url = LOGOUT_URL,
  remoteAddress = '127.0.0.1',
) {
  return app.inject({ method: 'POST', url, remoteAddress, headers: { 'content-type': type }, payload: body });
}
function postSet(token: string, type = 'application/secevent+jwt') {
  return app.inject({ method: 'POST', url: SET_URL, headers: { 'content-type': type }, payload: token });
}
async function counted(receiver: string, outcome: string): Promise<number> {
  const m = await metrics.receiverEvents.get();
  return m.values.find((v) => v.labels.receiver === receiver && v.labels.outcome === outcome)?.value ?? 0;
}

describe('back-channel logout receiver', () => {
  it('answers 200, creates one sid revocation, and counts it', async () => {
    const res = await postLogout(`logout_token=${logoutToken()}`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(stored.size).toBe(1);
    const r = [...stored.values()][0]!;
    expect(r.spec.tokens).toEqual([{ sid: 'session-1', issuer: IDP }]);
    expect(r.spec.policyName).toBe('orders');
    expect(r.metadata.labels['tokenwarden.dev/event']).toBe('backchannel-logout');
    expect(await counted('backchannel_logout', 'revoked')).toBe(1);
  });

  it('the same logout token twice: one revocation, 200 both times (duplicate)', async () => {
    const token = logoutToken();
    expect((await postLogout(`logout_token=${token}`)).statusCode).toBe(200);
    expect((await postLogout(`logout_token=${token}`)).statusCode).toBe(200);
    expect(stored.size).toBe(1);
    expect(await counted('backchannel_logout', 'duplicate')).toBe(1);
  });

  it('another token reusing a spent jti: 400 replayed, nothing new', async () => {
    await postLogout(`logout_token=${logoutToken()}`);
    const res = await postLogout(`logout_token=${logoutToken(logoutClaims({ sid: 'session-2' }))}`);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: 'invalid_request' });
    expect(stored.size).toBe(1);
    expect(await counted('backchannel_logout', 'replayed')).toBe(1);
  });

  it('a bad logout token: 400 with the error JSON, nothing created, the token never in the body', async () => {
    const token = logoutToken(logoutClaims(), undefined, FORGER);
    const res = await postLogout(`logout_token=${token}`);
    expect(res.statusCode).toBe(400);
    const body = res.json<{ error: string; error_description: string }>();
    expect(body.error).toBe('invalid_request');
    expect(body.error_description).not.toContain(token.split('.')[1]);
    expect(stored.size).toBe(0);
    expect(await counted('backchannel_logout', 'bad_signature')).toBe(1);
  });

  it.each([
    ['no logout_token', 'token=x', 'application/x-www-form-urlencoded'],
    ['two logout_token values', `logout_token=a&logout_token=b`, 'application/x-www-form-urlencoded'],
    ['a JSON body', '{"logout_token":"x"}', 'application/json'],
  ])('%s: 400 invalid_request, counted malformed', async (_name, body, type) => {
    const res = await postLogout(body, type);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: 'invalid_request' });
    expect(await counted('backchannel_logout', 'malformed')).toBe(1);
  });

  it('a policy without a receiver at that address: 404', async () => {
    const res = await postLogout(
      `logout_token=${logoutToken()}`,
      undefined,
      '/v1/receivers/shop/other/backchannel-logout',
    );
    expect(res.statusCode).toBe(404);
    expect(await counted('backchannel_logout', 'no_receiver')).toBe(1);
  });

  it('a failed write: 503 and no memory of the jti, so the retry creates it', async () => {
    failWrites = true;
    const token = logoutToken();
    expect((await postLogout(`logout_token=${token}`)).statusCode).toBe(503);
    failWrites = false;
    expect((await postLogout(`logout_token=${token}`)).statusCode).toBe(200);
    expect(stored.size).toBe(1);
    expect(await counted('backchannel_logout', 'write_failed')).toBe(1);
  });

  it('more than the burst from one issuer: 429, counted', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = logoutToken(logoutClaims({ jti: `burst-${i}`, sid: `s-${i}` }));
      codes.push((await postLogout(`logout_token=${t}`)).statusCode);
    }
    expect(codes).toEqual([200, 200, 200, 429, 429]);
    expect(stored.size).toBe(3);
    expect(await counted('backchannel_logout', 'rate_limited')).toBe(2);
  });

  it("garbage beyond a sender's burst is refused 429 before any signature check; other senders go on until the overall burst", async () => {
    const forged = logoutToken(logoutClaims({ jti: 'forged' }), undefined, FORGER);
    const from = (peer: string) => postLogout(`logout_token=${forged}`, undefined, LOGOUT_URL, peer);
    const codes: number[] = [];
    for (let i = 0; i < 8; i++) codes.push((await from('10.0.0.1')).statusCode);
    expect(codes).toEqual([400, 400, 400, 400, 400, 400, 429, 429]);
    expect(keyLookups).toBe(6);
    // Another sender has its own bucket, until the overall one (9) is empty.
    const others: number[] = [];
    for (let i = 0; i < 4; i++) others.push((await from('10.0.0.2')).statusCode);
    expect(others).toEqual([400, 400, 400, 429]);
    expect(keyLookups).toBe(9);
    expect(stored.size).toBe(0);
    expect(await counted('backchannel_logout', 'rate_limited')).toBe(3);
  });
});

describe('SSF push receiver (RFC 8935)', () => {
  it('answers 202 and creates a subject revocation cut at the event time', async () => {
    const res = await postSet(setToken());
    expect(res.statusCode).toBe(202);
    const r = [...stored.values()][0]!;
    expect(r.spec.tokens).toEqual([
      {
        subject: 'alice',
        issuer: IDP,
        issuedBefore: new Date((NOW - 9) * 1000).toISOString().replace('.000', ''),
      },
    ]);
    expect(r.metadata.labels['tokenwarden.dev/event']).toBe('session-revoked');
    expect(await counted('ssf', 'revoked')).toBe(1);
  });

  it.each<[string, () => string, string]>([
    ['a bad signature', () => setToken().slice(0, -4) + 'AAAA', 'invalid_key'],
    [
      'an unknown issuer',
      () =>
        setToken({
          ...JSON.parse('{}'),
          iss: 'https://evil/',
          aud: 'orders-client',
          iat: NOW,
          jti: 'x',
          events: {},
        }),
      'invalid_issuer',
    ],
    [
      'a wrong audience',
      () => setToken({ iss: IDP, aud: 'x', iat: NOW, jti: 'x', events: {} }),
      'invalid_audience',
    ],
    [
      'no events claim',
      () => setToken(without({ iss: IDP, aud: 'orders-client', iat: NOW, jti: 'x' })),
      'invalid_request',
    ],
  ])('%s: 400 {"err":"%s"}', async (_name, token, err) => {
    const res = await postSet(token());
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ err });
    expect(typeof res.json<{ description: unknown }>().description).toBe('string');
    expect(stored.size).toBe(0);
  });

  it('a SET posted as JSON: 400 invalid_request', async () => {
    const res = await postSet(setToken(), 'application/json');
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ err: 'invalid_request' });
  });
});
