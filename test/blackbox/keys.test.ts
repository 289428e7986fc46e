/**
 * Keys against the real process and a real JWKS server: readiness waits for the first fetch,
 * a rotated-in key is fetched exactly once, unknown kids never flood the issuer, and an outage
 * of the key source keeps the keys already held working while unknown kids fail closed.
 */
import { describe, expect, it } from 'vitest';
import { REALM } from './support/cases.js';
import { send } from './support/http.js';
import { identities, tokenLeaks } from './support/ledger.js';
import { leakyLabels, metric, requestsDelta } from './support/metrics.js';
import { POLICY_NAME, policyDoc } from './support/policy.js';
import { startSidecar, waitReady, type Sidecar } from './support/sidecar.js';
import { useWorld } from './support/world.js';
import { sleep } from '../support/wait.js';

/** The sidecar refetches for an unknown kid at most once per this long (README: 1 s). */
const COOLDOWN_MS = 1_000;

let sidecar: Sidecar;

const world = useWorld();

/** Latest refetch attempt the issuer could not see (it was down). */
let unseenAttemptAt = 0;

/** Until the last JWKS attempt is more than the cooldown ago, so an unknown kid may refetch. */
async function pastCooldown(): Promise<void> {
  const wait = Math.max(world.issuer.lastJwksRequestAt(), unseenAttemptAt) + COOLDOWN_MS + 150 - Date.now();
  if (wait > 0) await sleep(wait);
}

const invalidToken = (description: string): string =>
  `${REALM}, error="invalid_token", error_description="${description}"`;

describe('readiness and key fetching', () => {
  it('/readyz is 503 while the first JWKS fetch is pending, and 200 once keys are fetched', async () => {
    world.issuer.setDelay(2_500);
    sidecar = await startSidecar({
      name: 'keys',
      upstream: world.app.url,
      policyYaml: policyDoc(world.issuer),
    });
    const early = await fetch(`${sidecar.adminUrl}/readyz`);
    expect(early.status).toBe(503);
    expect(await early.json()).toEqual({
      status: 'not ready',
      reason: `keys not fetched yet for ${world.issuer.url}`,
    });
    world.issuer.setDelay(0);
    const ms = await waitReady(sidecar, 10_000);
    console.log(`ready ${ms} ms after the sidecar started listening`);
    expect(
      (await send(sidecar.proxyUrl, '/orders/ready', { token: await world.issuer.token() })).status,
    ).toBe(200);
    expect(
      await metric(sidecar.adminUrl, 'tokenwarden_jwks_refresh_total', {
        issuer: world.issuer.url,
        result: 'success',
      }),
    ).toBeGreaterThanOrEqual(1);
  });

  it('/healthz answers 200 (liveness does not depend on keys)', async () => {
    expect((await fetch(`${sidecar.adminUrl}/healthz`)).status).toBe(200);
  });
});

describe('key rotation', () => {
  it('a token signed by a newly published kid is accepted after exactly one JWKS refetch, even under a burst', async () => {
    await world.issuer.addKey('rsa-2', 'RS256');
    world.issuer.publish('rsa-2');
    await pastCooldown();
    const fetches = world.issuer.jwksRequests();
    const refreshes = await metric(sidecar.adminUrl, 'tokenwarden_jwks_refresh_total', {
      issuer: world.issuer.url,
      result: 'success',
    });
    const tokens = await Promise.all(
      Array.from({ length: 8 }, (_, i) => world.issuer.token({ sub: `user-rotated-${i}` }, { kid: 'rsa-2' })),
    );
    const statuses = await Promise.all(
      tokens.map(async (token) => (await send(sidecar.proxyUrl, '/orders/rotated', { token })).status),
    );
    expect(statuses).toEqual(tokens.map(() => 200));
    expect(world.issuer.jwksRequests() - fetches).toBe(1);
    expect(
      await metric(sidecar.adminUrl, 'tokenwarden_jwks_refresh_total', {
        issuer: world.issuer.url,
        result: 'success',
      }),
    ).toBe(refreshes + 1);
    // Known now: no further fetch for the same kid.
    expect(
      (
        await send(sidecar.proxyUrl, '/orders/rotated', {
          token: await world.issuer.token({}, { kid: 'rsa-2' }),
        })
      ).status,
    ).toBe(200);
    expect(world.issuer.jwksRequests() - fetches).toBe(1);
  });

  it('a stream of tokens with invented kids costs the issuer at most one request per second', async () => {
    await pastCooldown();
    await world.issuer.addKey('never-published', 'RS256');
    const fetches = world.issuer.jwksRequests();
    const started = Date.now();
    const moved = await requestsDelta(sidecar.adminUrl, async () => {
      for (let i = 0; i < 20; i++) {
        const token = await world.issuer.token(
          {},
          { kid: 'never-published', header: { kid: `invented-${i}` } },
        );
        expect((await send(sidecar.proxyUrl, '/orders/invented', { token })).status).toBe(401);
      }
    });
    const elapsed = Date.now() - started;
    expect(moved).toEqual({ [`${POLICY_NAME}/deny/unknown_key`]: 20 });
    expect(world.issuer.jwksRequests() - fetches).toBeLessThanOrEqual(1 + Math.floor(elapsed / COOLDOWN_MS));
  });
});

describe('key source outage', () => {
  it('while the JWKS server is down, keys already fetched keep working and /readyz stays 200', async () => {
    await world.issuer.takeDown();
    try {
      for (const kid of ['rsa-1', 'ec-1', 'rsa-2']) {
        const res = await send(sidecar.proxyUrl, '/orders/outage', {
          token: await world.issuer.token({ sub: `user-outage-${kid}` }, { kid }),
        });
        expect(res.status, kid).toBe(200);
      }
      expect((await fetch(`${sidecar.adminUrl}/readyz`)).status).toBe(200);
    } finally {
      await world.issuer.bringUp();
    }
  });

  it('while the JWKS server is down, a token with an unknown kid is refused 401 unknown_key and the failure is counted', async () => {
    await world.issuer.addKey('rsa-3', 'RS256');
    world.issuer.publish('rsa-3');
    await pastCooldown();
    await world.issuer.takeDown();
    try {
      const failures = await metric(sidecar.adminUrl, 'tokenwarden_jwks_refresh_total', {
        issuer: world.issuer.url,
        result: 'failure',
      });
      let res: Awaited<ReturnType<typeof send>> | undefined;
      const moved = await requestsDelta(sidecar.adminUrl, async () => {
        res = await send(sidecar.proxyUrl, '/orders/outage-new-kid', {
          token: await world.issuer.token({}, { kid: 'rsa-3' }),
        });
      });
      unseenAttemptAt = Date.now();
      expect(moved).toEqual({ [`${POLICY_NAME}/deny/unknown_key`]: 1 });
      expect(res?.status).toBe(401);
      expect(res?.headers['www-authenticate']).toBe(invalidToken('the token was signed by an unknown key'));
      expect(
        await metric(sidecar.adminUrl, 'tokenwarden_jwks_refresh_total', {
          issuer: world.issuer.url,
          result: 'failure',
        }),
      ).toBe(failures + 1);
      expect(world.app.receivedFor('/orders/outage-new-kid')).toHaveLength(0);
    } finally {
      await world.issuer.bringUp();
    }
  });

  it('once the JWKS server is back, the new kid is accepted on its next refetch', async () => {
    await pastCooldown();
    const res = await send(sidecar.proxyUrl, '/orders/after-outage', {
      token: await world.issuer.token({}, { kid: 'rsa-3' }),
    });
    expect(res.status).toBe(200);
  });

  it('no metric label value holds a sub or a jti of a token sent so far, or a token', async () => {
    const { subs, jtis } = identities();
    expect(await leakyLabels(sidecar.adminUrl, [...subs, ...jtis])).toEqual([]);
  });

  it('no log line of any sidecar so far holds a token or a signature sent so far', async () => {
    await sleep(200);
    expect(tokenLeaks().leaks).toEqual([]);
  });
});
