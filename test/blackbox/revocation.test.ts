/**
 * Revocation and reuse against the real process. Each revocation is added by editing the policy
 * file while the sidecar runs, after the token was accepted once (so it sits in the verified-
 * token cache): the time until the token is refused is measured and printed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REALM } from './support/cases.js';
import { malleate, signedPartSha256 } from './support/forge.js';
import { send } from './support/http.js';
import { identities, tokenLeaks } from './support/ledger.js';
import { leakyLabels, metric, requestsDelta } from './support/metrics.js';
import {
  POLICY_NAME,
  policyDoc,
  policyFile,
  revocationDoc,
  type PolicyOptions,
  type RevocationEntry,
} from './support/policy.js';
import { useWorld } from './support/world.js';
import { sleep, waitFor } from '../support/wait.js';

const BOUND_MS = 5_000;

const measured: string[] = [];
/** Revocation documents in the file so far: each test adds one. */
const revocations: string[] = [];
let policy: PolicyOptions = {};

// Registered before the world's hooks, so it runs after them (after-hooks run in reverse).
afterAll(() => {
  if (measured.length > 0) console.log(`[measured] ${measured.join('; ')}`);
});

const world = useWorld({ name: 'revocation', policy: (issuer) => policyDoc(issuer) });

const iso = (seconds: number): string => new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');

function rewrite(): void {
  world.sidecar.writePolicy(policyFile(policyDoc(world.issuer, policy), ...revocations));
}

async function status(path: string, token: string): Promise<number> {
  return (await send(world.sidecar.proxyUrl, path, { token })).status;
}

/** Adds a revocation to the file and measures until `token` is refused as revoked. */
async function revokeAndWait(
  name: string,
  entry: RevocationEntry,
  token: string,
  path: string,
): Promise<number> {
  revocations.push(revocationDoc(name, [entry]));
  const edited = Date.now();
  rewrite();
  await waitFor(
    `${name} to take effect`,
    async () =>
      (await send(world.sidecar.proxyUrl, path, { token })).text.includes('the token has been revoked'),
    BOUND_MS,
    10,
  );
  return Date.now() - edited;
}

describe('revocation by each matcher, added while the sidecar runs, of a token already cached', () => {
  const now = (): number => Math.floor(Date.now() / 1000);
  const cases: {
    name: string;
    matcher: string;
    sub: string;
    entry: (token: string) => RevocationEntry;
    iat?: number;
  }[] = [
    {
      name: 'jti',
      matcher: 'jti',
      sub: 'user-rev-jti',
      entry: (t) => ({ jti: String(JSON.parse(Buffer.from(t.split('.')[1]!, 'base64url').toString()).jti) }),
    },
    {
      name: 'tokenSha256 of the signed part',
      matcher: 'sha',
      sub: 'user-rev-sha',
      entry: (t) => ({ tokenSha256: signedPartSha256(t) }),
    },
    {
      name: 'subject',
      matcher: 'subject',
      sub: 'user-rev-subject',
      entry: () => ({ subject: 'user-rev-subject' }),
    },
    {
      name: 'subject and issuer',
      matcher: 'subject-issuer',
      sub: 'user-rev-subject-issuer',
      entry: () => ({ subject: 'user-rev-subject-issuer', issuer: world.issuer.url }),
    },
    {
      name: 'subject issued before an instant',
      matcher: 'subject-issued-before',
      sub: 'user-rev-before',
      iat: now() - 120,
      entry: () => ({ subject: 'user-rev-before', issuedBefore: iso(now() - 60) }),
    },
  ];

  it.each(cases)(`a token revoked by $name is refused within ${BOUND_MS} ms (measured)`, async (c) => {
    const path = `/orders/revoked-by-${c.matcher}`;
    const token = await world.issuer.token({ sub: c.sub, ...(c.iat === undefined ? {} : { iat: c.iat }) });
    expect(await status(path, token)).toBe(200);
    const entries = await metric(world.sidecar.adminUrl, 'tokenwarden_revocations');
    const ms = await revokeAndWait(`revoke-${c.matcher}`, c.entry(token), token, path);
    measured.push(`${c.name}: ${ms} ms`);
    console.log(`revoked by ${c.name} → refused after ${ms} ms`);
    expect(ms).toBeLessThan(BOUND_MS);
    expect(await metric(world.sidecar.adminUrl, 'tokenwarden_revocations')).toBe(entries + 1);
    let res: Awaited<ReturnType<typeof send>> | undefined;
    const moved = await requestsDelta(world.sidecar.adminUrl, async () => {
      res = await send(world.sidecar.proxyUrl, path, { token });
    });
    expect(moved).toEqual({ [`${POLICY_NAME}/deny/revoked`]: 1 });
    expect(res?.headers['www-authenticate']).toBe(
      `${REALM}, error="invalid_token", error_description="the token has been revoked"`,
    );
    expect(res?.json()).toEqual({ error: 'invalid_token', error_description: 'the token has been revoked' });
  });

  it('a token of the same subject issued after issuedBefore is still accepted', async () => {
    const later = await world.issuer.token({ sub: 'user-rev-before' });
    expect(await status('/orders/issued-after', later)).toBe(200);
  });

  it('a token of a subject revoked for another issuer only is still accepted', async () => {
    const token = await world.issuer.token({ sub: 'user-other-issuer' });
    revocations.push(
      revocationDoc('revoke-other-issuer', [
        { subject: 'user-other-issuer', issuer: 'https://other.example/' },
      ]),
    );
    const generation = await metric(world.sidecar.adminUrl, 'tokenwarden_config_generation');
    rewrite();
    await waitFor(
      'the edit',
      async () => (await metric(world.sidecar.adminUrl, 'tokenwarden_config_generation')) > generation,
      BOUND_MS,
    );
    expect(await status('/orders/other-issuer', token)).toBe(200);
  });

  it('a revoked ES256 token whose signature is rewritten s → n − s is still refused as revoked', async () => {
    const token = await world.issuer.token({ sub: 'user-malleable' }, { kid: 'ec-1' });
    const twin = malleate(token);
    expect(twin).not.toBe(token);
    // Both signatures are genuine: the rewrite is a real way around a whole-token hash.
    expect(await status('/orders/malleable', token)).toBe(200);
    expect(await status('/orders/malleable-twin', twin)).toBe(200);
    const ms = await revokeAndWait(
      'revoke-es256',
      { tokenSha256: signedPartSha256(token) },
      token,
      '/orders/malleable',
    );
    measured.push(`ES256 tokenSha256: ${ms} ms`);
    const fresh = malleate(token); // same bytes as twin; sent again after the revocation
    const moved = await requestsDelta(world.sidecar.adminUrl, async () => {
      expect(await status('/orders/malleable-twin', fresh)).toBe(401);
    });
    expect(moved).toEqual({ [`${POLICY_NAME}/deny/revoked`]: 1 });
  });

  it('removing a revocation from the file makes its token acceptable again', async () => {
    const token = await world.issuer.token({ sub: 'user-unrevoked' });
    await revokeAndWait('revoke-then-unrevoke', { subject: 'user-unrevoked' }, token, '/orders/unrevoke');
    revocations.pop();
    rewrite();
    await waitFor(
      'the revocation to be lifted',
      async () => (await status('/orders/unrevoke', token)) === 200,
      BOUND_MS,
    );
  });
});

describe('reuse limits (reuse.maxUses: 2, set by an edit)', () => {
  beforeAll(async () => {
    const generation = await metric(world.sidecar.adminUrl, 'tokenwarden_config_generation');
    policy = { maxUses: 2 };
    rewrite();
    await waitFor(
      'maxUses to apply',
      async () => (await metric(world.sidecar.adminUrl, 'tokenwarden_config_generation')) > generation,
      BOUND_MS,
    );
  });

  it('the third use of a token is refused 401 reused and counted in tokenwarden_token_reuse_total', async () => {
    const token = await world.issuer.token({ sub: 'user-reuse' });
    expect(await status('/orders/reuse', token)).toBe(200);
    expect(await status('/orders/reuse', token)).toBe(200);
    const reuse = await metric(world.sidecar.adminUrl, 'tokenwarden_token_reuse_total', {
      policy: POLICY_NAME,
    });
    let res: Awaited<ReturnType<typeof send>> | undefined;
    const moved = await requestsDelta(world.sidecar.adminUrl, async () => {
      res = await send(world.sidecar.proxyUrl, '/orders/reuse', { token });
    });
    expect(moved).toEqual({ [`${POLICY_NAME}/deny/reused`]: 1 });
    expect(res?.status).toBe(401);
    expect(res?.headers['www-authenticate']).toBe(
      `${REALM}, error="invalid_token", error_description="the token has been used too many times"`,
    );
    expect(
      await metric(world.sidecar.adminUrl, 'tokenwarden_token_reuse_total', { policy: POLICY_NAME }),
    ).toBe(reuse + 1);
    expect(world.app.receivedFor('/orders/reuse')).toHaveLength(2);
  });

  it('a token without jti is refused 401 malformed while maxUses is set', async () => {
    const token = await world.issuer.token({ jti: undefined });
    let res: Awaited<ReturnType<typeof send>> | undefined;
    const moved = await requestsDelta(world.sidecar.adminUrl, async () => {
      res = await send(world.sidecar.proxyUrl, '/orders/no-jti', { token });
    });
    expect(moved).toEqual({ [`${POLICY_NAME}/deny/malformed`]: 1 });
    expect(res?.status).toBe(401);
    expect(res?.headers['www-authenticate']).toBe(
      `${REALM}, error="invalid_token", error_description="the token is malformed"`,
    );
  });

  it('the same jti from two tokens (a re-signed copy) shares one use count', async () => {
    const claims = world.issuer.claims({ sub: 'user-resigned' });
    const rsa = await world.issuer.signRaw(claims, { kid: 'rsa-1' });
    const ec = await world.issuer.signRaw(claims, { kid: 'ec-1' });
    expect(await status('/orders/resigned', rsa)).toBe(200);
    expect(await status('/orders/resigned', ec)).toBe(200);
    expect(await status('/orders/resigned', rsa)).toBe(401);
  });

  it('the use count is not forgotten at exp while the clock skew still accepts the token', async () => {
    const exp = Math.floor(Date.now() / 1000) + 2;
    const token = await world.issuer.token({ sub: 'user-skew', exp });
    expect(await status('/orders/skew', token)).toBe(200);
    expect(await status('/orders/skew', token)).toBe(200);
    expect(await status('/orders/skew', token)).toBe(401);
    // Past exp but inside the default 30 s skew: still a valid token, still used up.
    await sleep(Math.max(0, exp * 1000 - Date.now()) + 600);
    const moved = await requestsDelta(world.sidecar.adminUrl, async () => {
      expect(await status('/orders/skew', token)).toBe(401);
    });
    expect(moved).toEqual({ [`${POLICY_NAME}/deny/reused`]: 1 });
  });

  it('a revoked token is reported as revoked, not reused, whatever its use count', async () => {
    const token = await world.issuer.token({ sub: 'user-revoked-and-used' });
    expect(await status('/orders/both', token)).toBe(200);
    expect(await status('/orders/both', token)).toBe(200);
    await revokeAndWait('revoke-used', { subject: 'user-revoked-and-used' }, token, '/orders/both');
    const moved = await requestsDelta(world.sidecar.adminUrl, async () => {
      expect(await status('/orders/both', token)).toBe(401);
    });
    expect(moved).toEqual({ [`${POLICY_NAME}/deny/revoked`]: 1 });
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
