/**
 * The decision pipeline and the state around it: the verified-token cache, the reuse counter,
 * Audit mode, keys fetched over HTTP (engine-rig.ts).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Decision } from '../../../src/decide/decision.js';
import { compilePolicy } from '../../../src/policy/compile.js';
import { malleate } from '../../support/tokens.js';
import {
  AUD,
  ISS,
  NOW,
  asForward,
  asReject,
  decide,
  ec,
  facts,
  policyOf,
  revocation,
  rig,
  rsa,
  sha,
  token,
  useEngineRig,
  waitingKeys,
} from './engine-rig.js';

useEngineRig();

describe('the verified-token cache in the pipeline', () => {
  it('a miss whose key is loaded, and the hit after it, are both decided synchronously', async () => {
    const r = await rig(policyOf());
    const t = token(rsa);
    const first = r.engine.decide(facts('/orders/1', t));
    expect(first).not.toBeInstanceOf(Promise);
    expect((first as Decision).kind).toBe('forward');
    expect([r.cache.hits, r.cache.misses]).toEqual([0, 1]);
    const second = r.engine.decide(facts('/orders/1', t));
    expect(second).not.toBeInstanceOf(Promise);
    expect((second as Decision).kind).toBe('forward');
    expect([r.cache.hits, r.cache.misses]).toEqual([1, 1]);
  });

  it('a miss is decided through a promise while its key set is still loading', async () => {
    const r = await rig();
    const active = r.state.apply(compilePolicy(policyOf()), [], r.clock.ms);
    const loading = r.keys.sync(active.policy.issuers.values());
    const pending = r.engine.decide(facts('/orders/1', token(rsa)));
    expect(pending).toBeInstanceOf(Promise);
    expect((await pending).kind).toBe('forward');
    await loading;
    // Verified while the key set changed (none → loaded): not cached, verified again next time.
    expect(r.cache.size).toBe(0);
  });

  it('revocation is checked on a cache hit: revoking a cached token refuses it at once', async () => {
    const r = await rig(policyOf());
    const t = token(rsa, { jti: 'j-cached' });
    expect((await decide(r, facts('/orders/1', t))).kind).toBe('forward');
    // Same spec (the cache survives), one revocation more.
    await r.apply(policyOf(), [revocation('late', [{ jti: 'j-cached' }])]);
    const d = r.engine.decide(facts('/orders/1', t));
    expect(d).not.toBeInstanceOf(Promise);
    expect(asReject(d as Decision)).toMatchObject({
      reason: 'revoked',
      description: 'revoked by TokenRevocation late',
    });
  });

  it('a forged signature on a cached token is verified, not served from the cache', async () => {
    const r = await rig(policyOf());
    const t = token(rsa);
    expect((await decide(r, facts('/orders/1', t))).kind).toBe('forward');
    const forged = `${t.slice(0, t.lastIndexOf('.'))}.${Buffer.alloc(256, 7).toString('base64url')}`;
    expect(asReject(await decide(r, facts('/orders/1', forged))).reason).toBe('bad_signature');
  });

  it('a spec change empties the cache: a removed audience stops a cached token', async () => {
    const r = await rig(policyOf());
    const t = token(rsa);
    expect((await decide(r, facts('/orders/1', t))).kind).toBe('forward');
    const narrower = policyOf();
    narrower.spec.issuers[0]!.audiences = ['other-api'];
    await r.apply(narrower);
    expect(asReject(await decide(r, facts('/orders/1', t))).reason).toBe('wrong_audience');
  });

  it('a result verified under a config replaced meanwhile is not cached', async () => {
    const r = await rig(policyOf(), [], waitingKeys);
    const pending = r.engine.decide(facts('/orders/1', token(rsa)));
    expect(pending).toBeInstanceOf(Promise);
    r.state.apply(compilePolicy(policyOf({ mode: 'Audit' })), [], r.clock.ms);
    expect((await pending).kind).toBe('forward');
    expect(r.cache.size).toBe(0);
  });

  it('a revoked ES256 token with its signature rewritten s → n − s is still revoked (tokenSha256 of the signed part)', async () => {
    const t = token(ec, { jti: 'j-es' });
    const twin = malleate(t);
    const open = await rig(policyOf());
    expect((await decide(open, facts('/orders/1', twin))).kind).toBe('forward'); // a genuine second signature
    const r = await rig(policyOf(), [revocation('by-hash', [{ tokenSha256: sha(t) }])]);
    expect(asReject(await decide(r, facts('/orders/1', t))).reason).toBe('revoked');
    expect(asReject(await decide(r, facts('/orders/1', twin))).reason).toBe('revoked');
  });
});

describe('reuse', () => {
  it('maxUses 2: the third use is refused as reused, counted per issuer and jti', async () => {
    const r = await rig(policyOf({ reuse: { maxUses: 2 } }));
    const t = token(rsa, { jti: 'j-reuse' });
    expect((await decide(r, facts('/orders/1', t))).kind).toBe('forward');
    expect((await decide(r, facts('/orders/1', t))).kind).toBe('forward');
    expect(asReject(await decide(r, facts('/orders/1', t)))).toMatchObject({
      reason: 'reused',
      description: 'use 3 of at most 2',
    });
    // The same jti signed again (another token) shares the count.
    expect(asReject(await decide(r, facts('/orders/1', token(ec, { jti: 'j-reuse' })))).reason).toBe(
      'reused',
    );
  });

  it('a token without jti is malformed while maxUses is set', async () => {
    const r = await rig(policyOf({ reuse: { maxUses: 1 } }));
    expect(asReject(await decide(r, facts('/orders/1', token(rsa, { jti: undefined }))))).toMatchObject({
      reason: 'malformed',
      stage: 'token',
    });
  });

  it('the count is not forgotten at exp while the clock skew still accepts the token', async () => {
    const r = await rig(policyOf({ reuse: { maxUses: 1 } }));
    const t = token(rsa, { jti: 'j-skew', exp: NOW + 10 });
    expect((await decide(r, facts('/orders/1', t))).kind).toBe('forward');
    r.clock.ms = (NOW + 15) * 1000; // past exp, inside the 30 s skew
    expect(asReject(await decide(r, facts('/orders/1', t))).reason).toBe('reused');
  });
});

describe('Audit mode', () => {
  it('forwards a refused token as audit_deny with the reason, and no claim headers', async () => {
    const r = await rig(policyOf({ mode: 'Audit' }));
    const d = asForward(await decide(r, facts('/orders/1', token(rsa, { iat: NOW - 900, exp: NOW - 60 }))));
    expect(d).toMatchObject({ decision: 'audit_deny', reason: 'expired', headers: [] });
    expect(d.token?.sub).toBe('user-1');
  });

  it.each([
    { name: 'no token', f: () => facts('/orders/1'), reason: 'missing' },
    { name: 'a Deny rule', f: () => facts('/admin/x', token(rsa)), reason: 'denied_by_rule' },
    {
      name: 'two Authorization headers',
      f: () =>
        facts('/orders/1', token(rsa), { authorization: [`Bearer ${token(rsa)}`, `Bearer ${token(rsa)}`] }),
      reason: 'malformed',
    },
  ])('forwards $name as audit_deny $reason', async ({ f, reason }) => {
    const r = await rig(policyOf({ mode: 'Audit' }));
    expect(asForward(await decide(r, f()))).toMatchObject({ decision: 'audit_deny', reason });
  });
});

describe('with a JWKS served over HTTP', () => {
  let server: Server;
  let published: JWK[];
  let fetches = 0;

  beforeAll(async () => {
    published = [];
    server = createServer((_req, res) => {
      fetches++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: published }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('a token of a key published after start-up is accepted after one refetch', async () => {
    const uri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
    published = [rsa.jwk];
    const p = policyOf();
    p.spec.issuers[0] = { issuer: ISS, audiences: [AUD], jwksUri: uri };
    const r = await rig(p);
    expect((await decide(r, facts('/orders/1', token(rsa)))).kind).toBe('forward');
    await new Promise((resolve) => setTimeout(resolve, 1_100)); // past the unknown-kid cooldown
    published = [rsa.jwk, ec.jwk];
    const before = fetches;
    expect((await decide(r, facts('/orders/1', token(ec)))).kind).toBe('forward');
    expect(fetches - before).toBe(1);
  });
});
