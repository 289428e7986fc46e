/**
 * Audit mode against the real process: every request Enforce would refuse for its token or its
 * rule is forwarded to the app instead, counted decision="audit_deny" with the reason Enforce
 * would have given, and logged. Requests that cannot be forwarded safely at all (an unsafe path)
 * are still refused.
 */
import { describe, expect, it } from 'vitest';
import { casePolicyYaml, denyCases, type Answer } from './support/cases.js';
import { rawGet, send } from './support/http.js';
import { identities, tokenLeaks } from './support/ledger.js';
import { leakyLabels, metric, requestsDelta } from './support/metrics.js';
import { POLICY_NAME } from './support/policy.js';
import { useWorld } from './support/world.js';
import { sleep, waitFor } from '../support/wait.js';

const world = useWorld({
  name: 'audit',
  policy: (issuer) => casePolicyYaml(issuer, 'Audit'),
});

describe('Audit mode forwards what Enforce would refuse, and counts it', () => {
  it.each(denyCases())('$name → forwarded, counted audit_deny', async (c) => {
    const ctx = { issuer: world.issuer, sidecar: world.sidecar, path: c.path };
    for (let i = 0; i < (c.warmUps ?? 0); i++) expect((await c.run(ctx)).status).toBe(200);
    const seen = world.app.receivedFor(c.path).length;
    const reuse = await metric(world.sidecar.adminUrl, 'tokenwarden_token_reuse_total', {
      policy: POLICY_NAME,
    });
    let answer: Answer | undefined;
    const moved = await requestsDelta(world.sidecar.adminUrl, async () => {
      answer = await c.run(ctx);
    });
    expect(moved).toEqual({ [`${POLICY_NAME}/audit_deny/${c.reason}`]: 1 });
    expect(answer?.status).toBe(200);
    expect(answer?.wwwAuthenticate).toBeUndefined();
    expect(JSON.parse(answer?.text ?? '')).toMatchObject({ app: 'echo' });
    expect(world.app.receivedFor(c.path)).toHaveLength(seen + 1);
    expect(
      await metric(world.sidecar.adminUrl, 'tokenwarden_token_reuse_total', { policy: POLICY_NAME }),
    ).toBe(reuse + (c.reason === 'reused' ? 1 : 0));
    const { value: record } = await waitFor('the audit log record', () =>
      world.sidecar
        .records()
        .find(
          (r) => r.msg === 'token would be rejected (audit)' && r.path === c.path && r.reason === c.reason,
        ),
    );
    expect(record).toMatchObject({ decision: 'audit_deny', policy: POLICY_NAME });
  });

  it('a refused-in-audit request does not carry claim headers from an unverified token', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await world.issuer.token({ sub: 'user-expired-audit', iat: now - 600, exp: now - 60 });
    await send(world.sidecar.proxyUrl, '/orders/audit-claims', {
      token,
      headers: { 'x-auth-subject': 'user-forged' },
    });
    const got = world.app.receivedFor('/orders/audit-claims')[0]!;
    expect(got.headers['x-auth-subject']).toBeUndefined();
  });

  it('a valid token is still counted allow/ok', async () => {
    const moved = await requestsDelta(world.sidecar.adminUrl, async () => {
      expect(
        (await send(world.sidecar.proxyUrl, '/orders/audit-ok', { token: await world.issuer.token() }))
          .status,
      ).toBe(200);
    });
    expect(moved).toEqual({ [`${POLICY_NAME}/allow/ok`]: 1 });
  });

  it('a path that cannot be normalised safely is still refused with 400 in Audit mode', async () => {
    const moved = await requestsDelta(world.sidecar.adminUrl, async () => {
      expect((await rawGet(world.sidecar.proxyPort, '/orders%2Faudit')).status).toBe(400);
    });
    expect(moved).toEqual({ [`${POLICY_NAME}/deny/malformed`]: 1 });
    const { value: record } = await waitFor('the path refusal log record', () =>
      world.sidecar.records().find((r) => r.msg === 'request rejected' && r.reason === 'malformed'),
    );
    expect(record).toMatchObject({ decision: 'deny', enforcedInAudit: true });
  });

  it('no metric label value holds a sub or a jti of a token sent so far, or a token', async () => {
    const { subs, jtis } = identities();
    expect(await leakyLabels(world.sidecar.adminUrl, [...subs, ...jtis])).toEqual([]);
  });

  it('no log line of any sidecar so far holds a token or a signature sent so far', async () => {
    await sleep(200);
    expect(tokenLeaks().leaks).toEqual([]);
  });
});
