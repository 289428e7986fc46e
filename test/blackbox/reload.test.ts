/**
 * Standalone hot reload against the real process: an edit of the policy file takes effect
 * within the bound (measured and printed), requests in flight are never dropped, a bad edit
 * keeps the last good policy and says why, and a sidecar without any valid policy fails closed.
 */
import { writeFileSync, rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { send } from './support/http.js';
import { AUDIENCE } from './support/issuer.js';
import { identities, tokenLeaks } from './support/ledger.js';
import { leakyLabels, metric, requestsDelta } from './support/metrics.js';
import { POLICY_NAME, policyDoc, type RuleDoc } from './support/policy.js';
import { startSidecar, waitReady, writeAtomically } from './support/sidecar.js';
import { useWorld } from './support/world.js';
import { sleep, waitFor } from '../support/wait.js';

/** The README promises one second; the tests allow five so a slow machine does not fail them. */
const BOUND_MS = 5_000;

const measured: string[] = [];

const RULES: RuleDoc[] = [{ name: 'orders', paths: ['/orders/*', '/slow'], action: 'Authenticate' }];

// Registered before the world's hooks, so it runs after them (after-hooks run in reverse).
afterAll(() => {
  if (measured.length > 0) console.log(`[measured] ${measured.join('; ')}`);
});

const world = useWorld({
  name: 'reload',
  policy: (issuer) => policyDoc(issuer, { rules: RULES }),
});

const gauge = (name: string): Promise<number> => metric(world.sidecar.adminUrl, name);

/** Polls a request until its status is `status`; returns the milliseconds since `since`. */
async function untilStatus(path: string, token: string, status: number, since: number): Promise<number> {
  await waitFor(
    `${path} to answer ${status}`,
    async () => (await send(world.sidecar.proxyUrl, path, { token })).status === status,
    BOUND_MS,
    10,
  );
  return Date.now() - since;
}

describe('a valid edit of the policy file', () => {
  it(`adding an audience takes effect within ${BOUND_MS} ms (README: 1 s; measured time printed)`, async () => {
    const token = await world.issuer.token({ aud: 'billing-api' });
    expect((await send(world.sidecar.proxyUrl, '/orders/aud', { token })).status).toBe(401);
    const generation = await gauge('tokenwarden_config_generation');
    const applied = await gauge('tokenwarden_config_last_applied_timestamp_seconds');
    const edited = Date.now();
    world.sidecar.writePolicy(
      policyDoc(world.issuer, { rules: RULES, audiences: [AUDIENCE, 'billing-api'] }),
    );
    const ms = await untilStatus('/orders/aud', token, 200, edited);
    measured.push(`audience added: ${ms} ms`);
    console.log(`audience added → accepted after ${ms} ms`);
    expect(ms).toBeLessThan(BOUND_MS);
    expect(await gauge('tokenwarden_config_generation')).toBe(generation + 1);
    expect(await gauge('tokenwarden_config_valid')).toBe(1);
    expect(await gauge('tokenwarden_config_last_applied_timestamp_seconds')).toBeGreaterThan(applied);
  });

  it(`a new Deny rule takes effect within ${BOUND_MS} ms for a token that was accepted (and cached) before`, async () => {
    const token = await world.issuer.token();
    expect((await send(world.sidecar.proxyUrl, '/orders/secret', { token })).status).toBe(200);
    const edited = Date.now();
    world.sidecar.writePolicy(
      policyDoc(world.issuer, {
        rules: [{ name: 'secret', paths: ['/orders/secret'], action: 'Deny' }, ...RULES],
        audiences: [AUDIENCE, 'billing-api'],
      }),
    );
    const ms = await untilStatus('/orders/secret', token, 403, edited);
    measured.push(`deny rule added: ${ms} ms`);
    console.log(`deny rule added → refused after ${ms} ms`);
    expect(ms).toBeLessThan(BOUND_MS);
  });

  it('the same content saved again is not a new generation', async () => {
    const generation = await gauge('tokenwarden_config_generation');
    const same = policyDoc(world.issuer, {
      rules: [{ name: 'secret', paths: ['/orders/secret'], action: 'Deny' }, ...RULES],
      audiences: [AUDIENCE, 'billing-api'],
    });
    world.sidecar.writePolicy(same);
    // Both the watcher (~50 ms) and the poll (500 ms) have had their chance by then.
    await sleep(1_200);
    expect(await gauge('tokenwarden_config_generation')).toBe(generation);
  });

  it('a request in flight when the policy changes completes with 200, though the new policy refuses it', async () => {
    const token = await world.issuer.token();
    const inFlight = send(world.sidecar.proxyUrl, '/slow?ms=1500', { token });
    await waitFor(
      'the app to receive the slow request',
      () => world.app.receivedFor('/slow').length > 0,
      BOUND_MS,
    );
    const generation = await gauge('tokenwarden_config_generation');
    world.sidecar.writePolicy(
      policyDoc(world.issuer, {
        rules: [{ name: 'slow-now-denied', paths: ['/slow'], action: 'Deny' }, ...RULES],
      }),
    );
    await waitFor(
      'the new generation',
      async () => (await gauge('tokenwarden_config_generation')) > generation,
      BOUND_MS,
    );
    expect((await send(world.sidecar.proxyUrl, '/slow?ms=0', { token })).status).toBe(403);
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({ url: '/slow?ms=1500' });
  });

  it('requests sent continuously across a reload all get an answer, none is dropped', async () => {
    const token = await world.issuer.token();
    const statuses: number[] = [];
    const errors: string[] = [];
    let stop = false;
    const load = (async () => {
      for (let i = 0; i < 2_000 && !stop; i++) {
        try {
          statuses.push((await send(world.sidecar.proxyUrl, '/orders/steady', { token })).status);
        } catch (err) {
          errors.push((err as Error).message);
        }
      }
    })();
    await sleep(150);
    const generation = await gauge('tokenwarden_config_generation');
    world.sidecar.writePolicy(policyDoc(world.issuer, { rules: RULES, expiry: { clockSkewSeconds: 10 } }));
    await waitFor(
      'the new generation',
      async () => (await gauge('tokenwarden_config_generation')) > generation,
      BOUND_MS,
    );
    await sleep(150);
    stop = true;
    await load;
    expect(errors).toEqual([]);
    expect(statuses.length).toBeGreaterThan(5);
    expect(new Set(statuses)).toEqual(new Set([200]));
  });
});

describe('an invalid edit', () => {
  const invalidEdits = [
    {
      name: 'a value out of bounds',
      text: () => policyDoc(world.issuer, { rules: RULES, expiry: { clockSkewSeconds: 900 } }),
      field: 'documents[0].spec.expiry.clockSkewSeconds',
    },
    {
      name: 'a plain-http key source to a non-loopback host',
      text: () =>
        policyDoc(world.issuer, { rules: RULES }).replace(
          world.issuer.jwksUri,
          'http://keys.example.com/jwks.json',
        ),
      field: 'documents[0].spec.issuers[0].jwksUri',
    },
    {
      name: 'a YAML syntax error',
      text: () => `${policyDoc(world.issuer, { rules: RULES })}\n  broken: [unclosed\n`,
      field: 'documents[0]: YAML syntax error at line',
    },
    {
      name: 'a misspelt field',
      text: () => policyDoc(world.issuer, { rules: RULES }).replace('rules:', 'rulez:'),
      field: 'documents[0].spec.rulez',
    },
  ];

  it.each(invalidEdits)(
    '($name) keeps the last good policy, logs why naming the field, flips tokenwarden_config_valid to 0 and counts a reload error',
    async ({ text, field }) => {
      const generation = await gauge('tokenwarden_config_generation');
      const errors = await gauge('tokenwarden_config_reload_errors_total');
      const logged = world.sidecar.logs().length;
      world.sidecar.writePolicy(text());
      await waitFor(
        'the reload error to be counted',
        async () => (await gauge('tokenwarden_config_reload_errors_total')) > errors,
        BOUND_MS,
      );
      expect(await gauge('tokenwarden_config_reload_errors_total')).toBe(errors + 1);
      expect(await gauge('tokenwarden_config_valid')).toBe(0);
      expect(await gauge('tokenwarden_config_generation')).toBe(generation);
      const { value: line } = await waitFor('the refusal in the log', () =>
        world.sidecar
          .logs()
          .slice(logged)
          .split('\n')
          .find((l) => l.includes('policy file refused')),
      );
      expect(line).toContain(field);
      expect(line).toContain(`keeping generation ${generation}`);
      // Still enforcing the last good policy: a good token passes, no token does not.
      expect(
        (await send(world.sidecar.proxyUrl, '/orders/still', { token: await world.issuer.token() })).status,
      ).toBe(200);
      expect((await send(world.sidecar.proxyUrl, '/orders/still')).status).toBe(401);
    },
  );

  it('a refused edit is reported on stderr, as the README ("prints the field at fault on stderr") promises', async () => {
    const errors = await gauge('tokenwarden_config_reload_errors_total');
    const before = world.sidecar.stderr().length;
    world.sidecar.writePolicy(policyDoc(world.issuer, { rules: RULES, expiry: { clockSkewSeconds: 901 } }));
    await waitFor(
      'the reload error',
      async () => (await gauge('tokenwarden_config_reload_errors_total')) > errors,
      BOUND_MS,
    );
    await sleep(200);
    expect(world.sidecar.stderr().slice(before)).toContain('spec.expiry.clockSkewSeconds');
  });

  it('a deleted policy file keeps the last good policy and counts a reload error', async () => {
    const errors = await gauge('tokenwarden_config_reload_errors_total');
    rmSync(world.sidecar.policyFile);
    await waitFor(
      'the reload error',
      async () => (await gauge('tokenwarden_config_reload_errors_total')) > errors,
      BOUND_MS,
    );
    expect(await gauge('tokenwarden_config_valid')).toBe(0);
    expect(
      (await send(world.sidecar.proxyUrl, '/orders/deleted', { token: await world.issuer.token() })).status,
    ).toBe(200);
    expect((await send(world.sidecar.proxyUrl, '/orders/deleted')).status).toBe(401);
  });

  it('fixing the file makes it valid again (1) and applies a new generation', async () => {
    const generation = await gauge('tokenwarden_config_generation');
    const edited = Date.now();
    writeFileSync(
      world.sidecar.policyFile,
      policyDoc(world.issuer, { rules: RULES, audiences: ['fixed-api'] }),
    );
    await waitFor(
      'the fixed policy',
      async () => (await gauge('tokenwarden_config_generation')) > generation,
      BOUND_MS,
    );
    measured.push(`fix after invalid edits: ${Date.now() - edited} ms`);
    expect(await gauge('tokenwarden_config_generation')).toBe(generation + 1);
    expect(await gauge('tokenwarden_config_valid')).toBe(1);
    const moved = await requestsDelta(world.sidecar.adminUrl, async () => {
      expect(
        (await send(world.sidecar.proxyUrl, '/orders/fixed', { token: await world.issuer.token() })).status,
      ).toBe(401);
    });
    expect(moved).toEqual({ [`${POLICY_NAME}/deny/wrong_audience`]: 1 });
  });
});

describe('a sidecar that has no valid policy', () => {
  it('answers 503 on every path and /readyz 503 until the file is fixed, then enforces it', async () => {
    const broken = await startSidecar({
      name: 'reload-no-policy',
      upstream: world.app.url,
      policyYaml: policyDoc(world.issuer, {
        rules: [{ name: 'open', paths: ['/open'], action: 'Allow' }],
        expiry: { clockSkewSeconds: -1 },
      }),
    });
    try {
      const token = await world.issuer.token();
      for (const path of ['/orders/x', '/open']) {
        const res = await send(broken.proxyUrl, path, { token });
        expect(res.status, path).toBe(503);
        expect(res.json()).toEqual({
          error: 'temporarily_unavailable',
          error_description: 'no token policy is loaded yet',
        });
      }
      expect(world.app.receivedFor('/open')).toHaveLength(0);
      const ready = await fetch(`${broken.adminUrl}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ reason: 'no valid policy loaded' });
      expect(await metric(broken.adminUrl, 'tokenwarden_config_valid')).toBe(0);
      expect(broken.logs()).toContain('documents[0].spec.expiry.clockSkewSeconds');

      writeAtomically(
        broken.policyFile,
        policyDoc(world.issuer, { rules: [{ name: 'open', paths: ['/open'], action: 'Allow' }] }),
      );
      await waitReady(broken, BOUND_MS);
      expect((await send(broken.proxyUrl, '/orders/x', { token })).status).toBe(200);
      expect((await send(broken.proxyUrl, '/orders/x')).status).toBe(401);
      expect((await send(broken.proxyUrl, '/open')).status).toBe(200);
      expect(await metric(broken.adminUrl, 'tokenwarden_config_generation')).toBe(1);
    } finally {
      await broken.stop();
    }
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
