/**
 * What the verifier accepts, what it answers about an accepted token, and when it answers
 * without a promise. Real keys and a real JWKS endpoint (verify-support.ts), `now` fixed.
 */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signedPartSha256 } from '../../../src/token/hash.js';
import { TokenVerifier } from '../../../src/token/verify.js';
import { NOW, claims, jws, malleate, policy } from '../../support/tokens.js';
import { RS_ONLY, good, useVerifyRig, withPart } from './verify-support.js';

const r = useVerifyRig();

describe('TokenVerifier.verify accepts', () => {
  const accepted = [
    { name: 'RS256', token: () => good(r.rsa, 'RS256') },
    { name: 'PS256', token: () => good(r.rsa, 'PS256') },
    { name: 'ES256', token: () => good(r.ec, 'ES256') },
    { name: 'EdDSA', token: () => good(r.ed, 'EdDSA') },
    { name: 'RS256 on a key pinned to RS256', token: () => good(r.pinned, 'RS256') },
    {
      name: 'a token without kid when one key fits its alg',
      token: () => jws({ alg: 'ES256' }, claims(), r.ec.privateKey),
    },
    { name: 'a second issuer with inline keys', token: () => good(r.rsa, 'RS256', { iss: RS_ONLY }) },
    {
      name: 'an expired token still inside the clock skew',
      token: () => good(r.rsa, 'RS256', { exp: NOW - 29 }),
    },
  ];

  it.each(accepted)('$name', async ({ token: make }) => {
    const token = make();
    const got = await r.verifier.verify(token, r.pol, NOW);
    expect(got.ok ? 'ok' : `${got.reason}: ${got.description}`).toBe('ok');
    if (!got.ok) return;
    expect(got.tokenSha256).toBe(signedPartSha256(token));
    expect(got.fingerprint).toBe(got.tokenSha256.slice(0, 12));
    expect(got.claims.sub).toBe('user-42');
    expect(got.exp).toBe(got.claims.exp);
    expect(got.cacheUntil).toBe(got.claims.exp);
  });

  it('accepts the s → n − s twin of an ES256 token with the SAME tokenSha256, so a revocation catches both', async () => {
    const original = good(r.ec, 'ES256');
    const twin = malleate(original);
    const a = await r.verifier.verify(original, r.pol, NOW);
    const b = await r.verifier.verify(twin, r.pol, NOW);
    expect(a.ok && b.ok).toBe(true);
    expect(a.ok && b.ok && a.tokenSha256 === b.tokenSha256).toBe(true);
  });

  it('caches no further than the instant the token becomes too old', async () => {
    const aged = policy([...r.pol.issuers.values()], { maxTokenAgeSeconds: 300 });
    const got = await r.verifier.verify(good(r.rsa, 'RS256'), aged, NOW);
    expect(got.ok && got.cacheUntil).toBe(NOW - 60 + 300);
  });
});

describe('TokenVerifier without a promise', () => {
  it('answers synchronously, accepting or refusing, when its key is at hand', () => {
    const token = good(r.rsa, 'RS256');
    const accepted = r.verifier.verify(token, r.pol, NOW);
    expect(accepted).not.toBeInstanceOf(Promise);
    const [h, p] = token.split('.').map((part) => Buffer.from(part, 'base64url').length);
    // jsonBytes: the received header and payload JSON, which sizes its cache entry.
    expect(accepted).toMatchObject({ ok: true, claims: { sub: 'user-42' }, jsonBytes: h! + p! });
    const forged = withPart(good(r.ec, 'ES256'), 2, Buffer.alloc(64, 1).toString('base64url'));
    const refused = r.verifier.verify(forged, r.pol, NOW);
    expect(refused).not.toBeInstanceOf(Promise);
    expect(refused).toMatchObject({ ok: false, reason: 'bad_signature' });
  });

  it('goes through a promise when the key layer must wait, with the same answer', async () => {
    const waiting = new TokenVerifier({
      version: 0,
      resolve: (iss, kid, alg) => Promise.resolve(r.store.resolve(iss, kid, alg)),
    });
    const token = good(r.rsa, 'RS256');
    const got = waiting.verify(token, r.pol, NOW);
    expect(got).toBeInstanceOf(Promise);
    expect(await got).toEqual(r.verifier.verify(token, r.pol, NOW));
  });
});

describe('TokenVerifier with a key that must not verify anything', () => {
  it('refuses a signature by an RSA key under 2048 bits as bad_signature instead of throwing', async () => {
    // A 1024-bit RSA key slipped past the key layer (a resolver that does not filter).
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const key = small.publicKey;
    const v = new TokenVerifier({ version: 0, resolve: () => Promise.resolve({ ok: true, key }) });
    const token = jws({ alg: 'RS256', kid: 'small' }, claims(), small.privateKey);
    expect(await v.verify(token, r.pol, NOW)).toMatchObject({ ok: false, reason: 'bad_signature' });
  });
});
