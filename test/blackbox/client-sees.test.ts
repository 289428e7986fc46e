/**
 * The README's "What clients see" against the real sidecar process: every row of the table, the
 * scheme spelling, path normalisation, the metrics and the denial log, in Enforce mode.
 */
import { describe, expect, it } from 'vitest';
import { casePolicyYaml, REALM, denyCases, type Answer } from './support/cases.js';
import { fingerprint } from './support/forge.js';
import { rawGet, send } from './support/http.js';
import { identities, tokenLeaks } from './support/ledger.js';
import {
  familyNames,
  leakyLabels,
  metric,
  metricsText,
  parseMetrics,
  requestsDelta,
} from './support/metrics.js';
import { POLICY_NAME } from './support/policy.js';
import { useWorld } from './support/world.js';
import { sleep, waitFor } from '../support/wait.js';

/** Every path this file sends, for the metric-label check. */
const paths = new Set<string>();

const world = useWorld({
  name: 'client-sees',
  policy: (issuer) => casePolicyYaml(issuer, 'Enforce'),
});

const allow = (reason = 'ok'): Record<string, number> => ({ [`${POLICY_NAME}/allow/${reason}`]: 1 });
const deny = (reason: string): Record<string, number> => ({ [`${POLICY_NAME}/deny/${reason}`]: 1 });

describe('every row of the "What a client sees" table', () => {
  it.each(denyCases())('$name', async (c) => {
    paths.add(c.path);
    const ctx = { issuer: world.issuer, sidecar: world.sidecar, path: c.path };
    for (let i = 0; i < (c.warmUps ?? 0); i++) expect((await c.run(ctx)).status).toBe(200);
    const seen = world.app.receivedFor(c.path).length;
    let answer: Answer | undefined;
    const moved = await requestsDelta(world.sidecar.adminUrl, async () => {
      answer = await c.run(ctx);
    });
    expect(moved).toEqual(deny(c.reason));
    expect(answer?.status).toBe(c.status);
    expect(answer?.wwwAuthenticate).toBe(c.wwwAuthenticate);
    expect(JSON.parse(answer?.text ?? '')).toEqual({ error: c.error, error_description: c.description });
    expect(world.app.receivedFor(c.path)).toHaveLength(seen);
  });

  it('a valid token is forwarded to the app and counted allow/ok', async () => {
    paths.add('/orders/valid');
    const token = await world.issuer.token({ sub: 'user-valid' });
    let status = 0;
    const moved = await requestsDelta(world.sidecar.adminUrl, async () => {
      status = (await send(world.sidecar.proxyUrl, '/orders/valid', { token })).status;
    });
    expect(moved).toEqual(allow());
    expect(status).toBe(200);
    expect(world.app.receivedFor('/orders/valid')).toHaveLength(1);
  });

  it.each([
    { name: 'an RS256 token', kid: 'rsa-1' },
    { name: 'an ES256 token', kid: 'ec-1' },
  ])('$name from the JWKS is accepted', async ({ kid }) => {
    const res = await send(world.sidecar.proxyUrl, '/orders/by-key', {
      token: await world.issuer.token({}, { kid }),
    });
    paths.add('/orders/by-key');
    expect(res.status).toBe(200);
  });

  it('a token with the required scope and claim passes the scoped rule', async () => {
    paths.add('/orders/admin/ok');
    const token = await world.issuer.token({ scope: 'orders:read orders:admin', role: 'admin' });
    const moved = await requestsDelta(world.sidecar.adminUrl, async () => {
      expect((await send(world.sidecar.proxyUrl, '/orders/admin/ok', { token })).status).toBe(200);
    });
    expect(moved).toEqual(allow());
  });

  it('an Allow rule forwards a request without a token, counted allow/public', async () => {
    const moved = await requestsDelta(world.sidecar.adminUrl, async () => {
      expect((await send(world.sidecar.proxyUrl, '/healthz')).status).toBe(200);
    });
    expect(moved).toEqual(allow('public'));
  });

  it.each(['bearer', 'BEARER', 'bEaReR'])(
    'the scheme name is case-insensitive: "%s" is accepted',
    async (scheme) => {
      const token = await world.issuer.token();
      const moved = await requestsDelta(world.sidecar.adminUrl, async () => {
        expect(
          (await send(world.sidecar.proxyUrl, '/orders/scheme', { authorization: `${scheme} ${token}` }))
            .status,
        ).toBe(200);
      });
      paths.add('/orders/scheme');
      expect(moved).toEqual(allow());
    },
  );

  it('another scheme (Basic) counts as no bearer token: 401 with the bare challenge', async () => {
    const res = await send(world.sidecar.proxyUrl, '/orders/basic', {
      authorization: 'Basic dXNlcjpwYXNzd29yZA==',
    });
    paths.add('/orders/basic');
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe(REALM);
  });
});

describe('rules match the normalised path', () => {
  it.each([
    { raw: '/healthz/../admin', what: 'a dot-dot segment after an Allow path' },
    { raw: '/healthz/%2e%2e/admin', what: 'a percent-encoded dot-dot segment' },
    { raw: '/%61dmin', what: 'a percent-encoded unreserved letter' },
    { raw: '//admin', what: 'a repeated slash' },
    { raw: '/./admin/./users', what: 'single-dot segments' },
  ])('$raw ($what) is matched as /admin…: the Deny rule applies', async ({ raw: target }) => {
    paths.add(target);
    const before = world.app.received.length;
    let res: Awaited<ReturnType<typeof rawGet>> | undefined;
    const moved = await requestsDelta(world.sidecar.adminUrl, async () => {
      res = await rawGet(world.sidecar.proxyPort, target, [
        `authorization: Bearer ${await world.issuer.token()}`,
      ]);
    });
    expect(moved).toEqual(deny('denied_by_rule'));
    expect(res?.status).toBe(403);
    expect(res?.header('www-authenticate')).toBeUndefined();
    expect(world.app.received.length).toBe(before);
  });

  it('/healthz/../orders/x without a token is matched as /orders/x: Authenticate applies, not Allow', async () => {
    paths.add('/orders/x');
    const moved = await requestsDelta(world.sidecar.adminUrl, async () => {
      expect((await rawGet(world.sidecar.proxyPort, '/healthz/../orders/x')).status).toBe(401);
    });
    expect(moved).toEqual(deny('missing'));
  });

  it.each([
    { raw: '/healthz/..%2Fadmin', description: 'encoded slash or backslash in path' },
    { raw: '/orders%2fx', description: 'encoded slash or backslash in path' },
    { raw: '/orders/..;/admin', description: 'dot segment with a parameter in path' },
    { raw: '/orders/%00', description: 'encoded control character in path' },
  ])(
    '$raw cannot be normalised safely: 400 invalid_request, never forwarded',
    async ({ raw: target, description }) => {
      paths.add(target);
      const before = world.app.received.length;
      let res: Awaited<ReturnType<typeof rawGet>> | undefined;
      const moved = await requestsDelta(world.sidecar.adminUrl, async () => {
        res = await rawGet(world.sidecar.proxyPort, target, [
          `authorization: Bearer ${await world.issuer.token()}`,
        ]);
      });
      expect(moved).toEqual(deny('malformed'));
      expect(res?.status).toBe(400);
      expect(res?.header('www-authenticate')).toBe(
        `${REALM}, error="invalid_request", error_description="${description}"`,
      );
      expect(JSON.parse(res?.text ?? '')).toEqual({
        error: 'invalid_request',
        error_description: description,
      });
      expect(world.app.received.length).toBe(before);
    },
  );

  it.each([
    { raw: '/healthz/../orders//norm-1?x=1&y=%2F', got: '/orders/norm-1?x=1&y=%2F' },
    { raw: '/orders/%6Eorm-2', got: '/orders/norm-2' },
    { raw: '/orders/./a/../norm-3/', got: '/orders/norm-3/' },
    { raw: '/orders/caf%c3%a9', got: '/orders/caf%C3%A9' },
  ])('the app receives the normalised target: $raw → $got', async ({ raw: target, got }) => {
    paths.add(target.split('?')[0]!);
    const res = await rawGet(world.sidecar.proxyPort, target, [
      `authorization: Bearer ${await world.issuer.token()}`,
    ]);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text).url).toBe(got);
  });
});

describe('observability', () => {
  it('a denial is logged once with reason, policy, rule, method, path, client, fingerprint, sub, jti and iss', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await world.issuer.token({
      sub: 'user-logged',
      jti: 'jti-logged-1',
      iat: now - 600,
      exp: now - 60,
    });
    paths.add('/orders/log-check');
    expect(
      (await send(world.sidecar.proxyUrl, '/orders/log-check', { method: 'DELETE', token })).status,
    ).toBe(401);
    const { value: records } = await waitFor('the denial log record', () => {
      const found = world.sidecar
        .records()
        .filter((r) => r.msg === 'request rejected' && r.path === '/orders/log-check');
      return found.length > 0 && found;
    });
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      level: 'info',
      decision: 'deny',
      reason: 'expired',
      policy: POLICY_NAME,
      rule: 'orders',
      method: 'DELETE',
      path: '/orders/log-check',
      client: '127.0.0.1',
      fingerprint: fingerprint(token),
      sub: 'user-logged',
      jti: 'jti-logged-1',
      iss: world.issuer.url,
    });
  });

  it('every metric the README names is exported', async () => {
    const text = await metricsText(world.sidecar.adminUrl);
    const names = familyNames(text);
    for (const name of [
      'tokenwarden_requests_total',
      'tokenwarden_auth_duration_seconds',
      'tokenwarden_token_remaining_lifetime_seconds',
      'tokenwarden_token_age_seconds',
      'tokenwarden_revocations',
      'tokenwarden_config_generation',
      'tokenwarden_config_last_applied_timestamp_seconds',
      'tokenwarden_jwks_refresh_total',
      'tokenwarden_token_reuse_total',
    ]) {
      expect(names, name).toContain(name);
    }
    const samples = parseMetrics(text);
    expect(samples.find((s) => s.name === 'tokenwarden_revocations')?.value).toBe(1);
    expect(samples.find((s) => s.name === 'tokenwarden_config_generation')?.value).toBe(1);
    const applied =
      samples.find((s) => s.name === 'tokenwarden_config_last_applied_timestamp_seconds')?.value ?? 0;
    expect(Math.abs(applied - Date.now() / 1000)).toBeLessThan(600);
    expect(
      await metric(world.sidecar.adminUrl, 'tokenwarden_jwks_refresh_total', {
        issuer: world.issuer.url,
        result: 'success',
      }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      await metric(world.sidecar.adminUrl, 'tokenwarden_token_remaining_lifetime_seconds_count'),
    ).toBeGreaterThan(0);
    expect(await metric(world.sidecar.adminUrl, 'tokenwarden_token_age_seconds_count')).toBeGreaterThan(0);
    expect(await metric(world.sidecar.adminUrl, 'tokenwarden_auth_duration_seconds_count')).toBeGreaterThan(
      0,
    );
  });

  it('no metric label value holds a token, a sub, a jti or a path this file sent', async () => {
    const { subs, jtis } = identities();
    const forbidden = [...subs, ...jtis, ...paths];
    expect(forbidden.length).toBeGreaterThan(20);
    expect(await leakyLabels(world.sidecar.adminUrl, forbidden)).toEqual([]);
  });

  it('no log line of any sidecar so far holds a token or a signature sent so far', async () => {
    // Logs are written asynchronously: give the last ones a moment to land.
    await sleep(200);
    const { logs, secrets, leaks } = tokenLeaks();
    expect(logs).toBeGreaterThan(0);
    expect(secrets).toBeGreaterThan(20);
    expect(leaks).toEqual([]);
  });
});
