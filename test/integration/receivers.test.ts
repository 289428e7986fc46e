/**
 * The identity-provider receivers in cluster: the REAL operator process and REAL sidecar
 * processes (dist/cmd/tokenwarden.js, `npm run build` first) against the harness's
 * kube-apiserver; a local identity provider on 127.0.0.1 (receivers-support.ts) serves its JWKS
 * and signs access tokens, back-channel logout tokens and SETs. An event POSTed to the
 * operator's HTTPS server must become exactly one TokenRevocation, and both sidecars must then
 * refuse the tokens it names — and only those.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POLICIES, REVOCATIONS, custom, waitFor, type Obj } from './operator-support.js';
import { statusOf } from './in-cluster-support.js';
import { kc, ns, servePort, untilEvery } from './in-cluster-world.js';
import { useInCluster } from './in-cluster-hooks.js';
import {
  CREDENTIAL_CHANGE,
  SESSION_REVOKED,
  logoutBody,
  postToOperator,
  startLocalIdp,
  type LocalIdp,
} from './receivers-support.js';

const CLIENT = 'orders-client';
const API = 'orders-api';
const FORM = 'application/x-www-form-urlencoded';
const SET_TYPE = 'application/secevent+jwt';

let idp: LocalIdp;

async function statuses(token: string): Promise<number[]> {
  return Promise.all(world.sidecars.map((s) => statusOf(`${s.url}/orders`, token)));
}

async function fromIdp(): Promise<Obj[]> {
  const list = (await custom(kc).listNamespacedCustomObject({
    ...REVOCATIONS,
    namespace: ns,
    labelSelector: 'tokenwarden.dev/origin=identity-provider',
  })) as { items: Obj[] };
  return list.items;
}

const post = (path: string, type: string, body: string) =>
  postToOperator(servePort, world.caPem, `/v1/receivers/${ns}/orders/${path}`, type, body);

// Registered before the world's hooks, so it runs after them (after-hooks run in reverse).
afterAll(async () => {
  await idp?.close();
});

const world = useInCluster({
  operator: 'operator-r',
  sidecars: 2,
  beforeOperator: async () => {
    idp = await startLocalIdp();
    // The world's policy, plus the local identity provider with a receiver.
    const policy = (await custom(kc).getNamespacedCustomObject({
      ...POLICIES,
      namespace: ns,
      name: 'orders',
    })) as Obj;
    policy.spec.expiry = { maxLifetimeSeconds: 3600 };
    policy.spec.issuers.push({
      issuer: idp.issuer,
      audiences: [API],
      jwksUri: idp.jwksUri,
      algorithms: ['ES256'],
      receiver: { audience: CLIENT, events: ['BackchannelLogout', 'SessionRevoked', 'CredentialChange'] },
    });
    await custom(kc).replaceNamespacedCustomObject({
      ...POLICIES,
      namespace: ns,
      name: 'orders',
      body: policy,
    });
  },
});

beforeAll(async () => {
  const probe = await idp.accessToken({ sub: 'probe' }, API);
  await waitFor('both sidecars to accept the local issuer', async () =>
    (await statuses(probe)).every((s) => s === 200),
  );
});

describe('identity-provider receivers, real operator and sidecars', () => {
  it('a back-channel logout with sid revokes that session everywhere, once; other sessions and sid-less tokens pass', async () => {
    const session = await idp.accessToken({ sub: 'alice', sid: 'sess-1' }, API);
    const other = await idp.accessToken({ sub: 'alice', sid: 'sess-2' }, API);
    const noSid = await idp.accessToken({ sub: 'alice' }, API);
    expect(await statuses(session)).toEqual([200, 200]);

    const logout = await idp.logoutToken({ sub: 'alice', sid: 'sess-1' }, CLIENT);
    const t0 = Date.now();
    const res = await post('backchannel-logout', FORM, logoutBody(logout));
    expect(res.status).toBe(200);
    const took = await untilEvery(world.sidecars, '/orders', session, 401, t0);
    expect(took.length).toBe(2);
    expect(await statuses(other)).toEqual([200, 200]);
    expect(await statuses(noSid)).toEqual([200, 200]);

    // The identity provider retries: still one object.
    expect((await post('backchannel-logout', FORM, logoutBody(logout))).status).toBe(200);
    const made = await fromIdp();
    expect(made.length).toBe(1);
    expect(made[0]!.spec.tokens).toEqual([{ sid: 'sess-1', issuer: idp.issuer }]);
    expect(made[0]!.spec.policyName).toBe('orders');
    expect(made[0]!.metadata.labels['tokenwarden.dev/event']).toBe('backchannel-logout');
    expect(typeof made[0]!.spec.expiresAt).toBe('string');
  });

  it('a bad logout token is answered 400 with the error JSON, and revokes nothing', async () => {
    const before = (await fromIdp()).length;
    const forged = `${(await idp.logoutToken({ sub: 'alice' }, CLIENT)).slice(0, -6)}AAAAAA`;
    const res = await post('backchannel-logout', FORM, logoutBody(forged));
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'invalid_request' });
    const wrongAud = await idp.logoutToken({ sub: 'alice' }, 'someone-else');
    expect((await post('backchannel-logout', FORM, logoutBody(wrongAud))).status).toBe(400);
    expect((await fromIdp()).length).toBe(before);
  });

  it('an SSF credential-change SET (202) revokes the subject tokens issued before the change, not later ones', async () => {
    const changedAt = Math.floor(Date.now() / 1000) - 5;
    const old = await idp.accessToken({ sub: 'bob', iat: changedAt - 60 }, API);
    const fresh = await idp.accessToken({ sub: 'bob', iat: changedAt + 3 }, API);
    expect(await statuses(old)).toEqual([200, 200]);
    const set = await idp.set(
      CREDENTIAL_CHANGE,
      { format: 'iss_sub', iss: idp.issuer, sub: 'bob' },
      CLIENT,
      changedAt,
    );
    const t0 = Date.now();
    const res = await post('events', SET_TYPE, set);
    expect(res.status).toBe(202);
    await untilEvery(world.sidecars, '/orders', old, 401, t0);
    expect(await statuses(fresh)).toEqual([200, 200]);
    const made = (await fromIdp()).filter(
      (r) => r.metadata.labels['tokenwarden.dev/event'] === 'credential-change',
    );
    expect(made.length).toBe(1);
    expect(made[0]!.spec.tokens[0]).toMatchObject({ subject: 'bob', issuer: idp.issuer });
  });

  it('a session-revoked SET naming the session revokes its tokens', async () => {
    const token = await idp.accessToken({ sub: 'carol', sid: 'sess-9' }, API);
    expect(await statuses(token)).toEqual([200, 200]);
    const subject = { format: 'complex', session: { format: 'opaque', id: 'sess-9' } };
    const t0 = Date.now();
    expect((await post('events', SET_TYPE, await idp.set(SESSION_REVOKED, subject, CLIENT))).status).toBe(
      202,
    );
    await untilEvery(world.sidecars, '/orders', token, 401, t0);
  });

  it('an SSF SET the receiver is not configured for gets 400 {"err":"invalid_request"}', async () => {
    const set = await idp.set(
      'https://schemas.openid.net/secevent/risc/event-type/account-disabled',
      { format: 'iss_sub', iss: idp.issuer, sub: 'dave' },
      CLIENT,
    );
    const res = await post('events', SET_TYPE, set);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ err: 'invalid_request' });
    expect(world.operator).toBeDefined();
  });
});
