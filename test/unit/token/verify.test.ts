/**
 * The verifier end to end: real keys, real signatures, keys served by a real JWKS endpoint on
 * 127.0.0.1, `now` fixed (the rig: verify-support.ts). One table of attacks and mistakes, each
 * with the reason it must get. What it accepts: verify-accepts.test.ts; `explain`:
 * verify-explain.test.ts; `typ`: verify-types.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { signedPartSha256 } from '../../../src/token/hash.js';
import { AUDIENCE, NOW, b64url, claims, jws, publicPem } from '../../support/tokens.js';
import { RS_ONLY, good, useVerifyRig, withPart } from './verify-support.js';

const r = useVerifyRig();

interface Case {
  name: string;
  token: () => string;
  reason: string;
  description: string | RegExp;
}

const H = (): string => b64url({ alg: 'RS256', kid: 'rsa-1' });
const P = (): string => b64url(claims());

const refusals: Case[] = [
  // ---- malformed shapes -------------------------------------------------------------------
  {
    name: 'one part',
    token: () => 'eyJhbGciOiJSUzI1NiJ9',
    reason: 'malformed',
    description: 'three dot-separated parts',
  },
  {
    name: 'two parts',
    token: () => `${H()}.${P()}`,
    reason: 'malformed',
    description: 'three dot-separated parts',
  },
  {
    name: 'four parts',
    token: () => `${good(r.rsa, 'RS256')}.AAAA`,
    reason: 'malformed',
    description: 'three dot-separated parts',
  },
  {
    name: 'an empty header',
    token: () => withPart(good(r.rsa, 'RS256'), 0, ''),
    reason: 'malformed',
    description: 'empty part',
  },
  {
    name: 'an empty payload',
    token: () => withPart(good(r.rsa, 'RS256'), 1, ''),
    reason: 'malformed',
    description: 'empty part',
  },
  {
    name: 'bad base64 in the header',
    token: () => withPart(good(r.rsa, 'RS256'), 0, 'e*J'),
    reason: 'malformed',
    description: 'header is not base64url',
  },
  {
    name: 'a header that is not JSON',
    token: () => withPart(good(r.rsa, 'RS256'), 0, b64url('{alg:RS256')),
    reason: 'malformed',
    description: 'header is not a JSON object',
  },
  {
    name: 'a header that is a JSON array',
    token: () => withPart(good(r.rsa, 'RS256'), 0, b64url(['RS256'])),
    reason: 'malformed',
    description: 'header is not a JSON object',
  },
  {
    name: 'a payload that is not JSON',
    token: () => withPart(good(r.rsa, 'RS256'), 1, b64url('sub=1')),
    reason: 'malformed',
    description: 'payload is not a JSON object',
  },
  {
    name: 'non-ASCII in the token',
    token: () => withPart(good(r.rsa, 'RS256'), 1, `${P()}ü`),
    reason: 'malformed',
    description: 'payload is not base64url',
  },
  {
    name: 'a 64 KiB token',
    token: () => good(r.rsa, 'RS256', { pad: 'x'.repeat(64 * 1024) }),
    reason: 'malformed',
    description: 'longer than 16384',
  },
  {
    name: 'a crit header',
    token: () => jws({ alg: 'RS256', kid: 'rsa-1', crit: ['x'], x: 1 }, claims(), r.rsa.privateKey),
    reason: 'malformed',
    description: 'crit',
  },

  // ---- algorithm attacks ------------------------------------------------------------------
  {
    name: 'alg none, unsigned (empty signature)',
    token: () => `${b64url({ alg: 'none' })}.${P()}.`,
    reason: 'malformed',
    description: 'empty part',
  },
  {
    name: 'alg none with a signature',
    token: () => `${b64url({ alg: 'none', kid: 'rsa-1' })}.${P()}.c2ln`,
    reason: 'alg_not_allowed',
    description: 'alg none is never accepted',
  },
  {
    name: 'alg NoNe',
    token: () => `${b64url({ alg: 'NoNe' })}.${P()}.c2ln`,
    reason: 'alg_not_allowed',
    description: 'the token alg is never accepted',
  },
  {
    name: 'HS256 signed with the RSA public key PEM as HMAC secret (key confusion)',
    token: () => jws({ alg: 'HS256', kid: 'rsa-1' }, claims(), Buffer.from(publicPem(r.rsa))),
    reason: 'alg_not_allowed',
    description: 'alg HS256 is never accepted',
  },
  {
    name: 'an alg outside the issuer allow-list',
    token: () => good(r.ec, 'ES256', { iss: RS_ONLY }),
    reason: 'alg_not_allowed',
    description: 'alg ES256 is not allowed for this issuer (allowed: RS256)',
  },
  {
    name: 'an RS256 header on an EC key',
    token: () => jws({ alg: 'RS256', kid: 'ec-1' }, claims(), r.rsa.privateKey),
    reason: 'bad_signature',
    description: 'a EC P-256 key cannot verify RS256',
  },
  {
    name: 'an ES256 header on an RSA key',
    token: () => jws({ alg: 'ES256', kid: 'rsa-1' }, claims(), r.ec.privateKey),
    reason: 'bad_signature',
    description: 'a RSA key cannot verify ES256',
  },
  {
    name: 'PS256 on a key pinned to RS256',
    token: () => jws({ alg: 'PS256', kid: 'rsa-pinned' }, claims(), r.pinned.privateKey),
    reason: 'bad_signature',
    description: 'pinned to RS256, not PS256',
  },

  // ---- key-selection attacks --------------------------------------------------------------
  {
    name: 'an embedded jwk header with the attacker key (no kid, one genuine ES256 key) is ignored',
    token: () => jws({ alg: 'ES256', jwk: r.evilEc.jwk }, claims(), r.evilEc.privateKey),
    reason: 'bad_signature',
    description: 'the signature does not verify',
  },
  {
    name: 'an embedded jwk header with the attacker key (no kid, two genuine RS256 keys) is ignored',
    token: () => jws({ alg: 'RS256', jwk: r.evil.jwk }, claims(), r.evil.privateKey),
    reason: 'unknown_key',
    description: 'the token has no kid and 2 keys of its issuer fit RS256',
  },
  {
    name: 'an embedded jwk header with the attacker kid is ignored',
    token: () => jws({ alg: 'RS256', kid: 'evil', jwk: r.evil.jwk }, claims(), r.evil.privateKey),
    reason: 'unknown_key',
    description: 'no key with kid "evil"',
  },
  {
    name: 'a jku header pointing at the attacker JWKS is ignored',
    token: () =>
      jws({ alg: 'RS256', kid: 'evil', jku: `${r.attacker.origin}/jwks.json` }, claims(), r.evil.privateKey),
    reason: 'unknown_key',
    description: 'no key with kid "evil"',
  },
  {
    name: 'an x5u header pointing at the attacker is ignored',
    token: () =>
      jws({ alg: 'RS256', kid: 'rsa-1', x5u: `${r.attacker.origin}/cert.pem` }, claims(), r.evil.privateKey),
    reason: 'bad_signature',
    description: 'the signature does not verify',
  },
  {
    name: 'an x5c header with an attacker chain is ignored',
    token: () =>
      jws({ alg: 'RS256', kid: 'rsa-1', x5c: [b64url('not a cert')] }, claims(), r.evil.privateKey),
    reason: 'bad_signature',
    description: 'the signature does not verify',
  },
  {
    name: 'a path-traversal kid just does not match',
    token: () => jws({ alg: 'RS256', kid: '../../etc/passwd' }, claims(), r.rsa.privateKey),
    reason: 'unknown_key',
    description: 'no key with the kid of the token',
  },

  // ---- signature attacks ------------------------------------------------------------------
  {
    name: 'a signature by another key under the genuine kid',
    token: () => good(r.evilEc, 'ES256'),
    reason: 'bad_signature',
    description: 'the signature does not verify',
  },
  {
    name: 'an ECDSA signature with r = s = 0',
    token: () => withPart(good(r.ec, 'ES256'), 2, Buffer.alloc(64).toString('base64url')),
    reason: 'bad_signature',
    description: 'the signature does not verify',
  },
  {
    name: 'an ECDSA signature of the wrong length',
    token: () => withPart(good(r.ec, 'ES256'), 2, Buffer.alloc(63, 1).toString('base64url')),
    reason: 'bad_signature',
    description: 'the signature does not verify',
  },
  {
    name: 'a tampered payload',
    token: () => withPart(good(r.rsa, 'RS256'), 1, b64url(claims({ sub: 'admin' }))),
    reason: 'bad_signature',
    description: 'the signature does not verify',
  },
  {
    name: 'a tampered header',
    token: () => withPart(good(r.rsa, 'RS256'), 0, b64url({ alg: 'RS256', kid: 'rsa-1', typ: 'at+jwt' })),
    reason: 'bad_signature',
    description: 'the signature does not verify',
  },

  // ---- issuer and claims (after the signature) --------------------------------------------
  {
    name: 'an unknown issuer',
    token: () => good(r.rsa, 'RS256', { iss: 'https://evil.example/' }),
    reason: 'wrong_issuer',
    description: 'not one this policy trusts',
  },
  {
    name: 'a wrong audience',
    token: () => good(r.rsa, 'RS256', { aud: 'payments' }),
    reason: 'wrong_audience',
    description: `not one of: ${AUDIENCE}`,
  },
  {
    name: 'an expired token',
    token: () => good(r.ec, 'ES256', { exp: NOW - 3600 }),
    reason: 'expired',
    description: 'expired at',
  },
  {
    name: 'a token not yet valid',
    token: () => good(r.ed, 'EdDSA', { nbf: NOW + 3600 }),
    reason: 'not_yet_valid',
    description: 'not valid before',
  },
];

describe('TokenVerifier.verify refuses', () => {
  it.each(refusals)('$name', async ({ token: make, reason, description }) => {
    const token = make();
    const got = await r.verifier.verify(token, r.pol, NOW);
    expect(got.ok).toBe(false);
    if (got.ok) return;
    expect(got.reason).toBe(reason);
    if (typeof description === 'string') expect(got.description).toContain(description);
    else expect(got.description).toMatch(description);
    // Never the token, nor any part of it, in a description.
    for (const part of token.split('.')) if (part.length >= 8) expect(got.description).not.toContain(part);
  });

  it('never contacts a URL named by the token', () => {
    expect(r.attacker.requests).toEqual([]);
    expect(r.idp.requests.every((p) => p === '/jwks.json')).toBe(true);
  });

  it('carries the fingerprint and the unverified claims of a refused token, for logs', async () => {
    const token = good(r.rsa, 'RS256', { aud: 'payments' });
    const got = await r.verifier.verify(token, r.pol, NOW);
    expect(got).toMatchObject({
      ok: false,
      fingerprint: signedPartSha256(token).slice(0, 12),
      claims: { sub: 'user-42' },
    });
  });
});
