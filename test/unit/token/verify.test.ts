/**
 * The verifier end to end: real keys, real signatures, keys served by a real JWKS endpoint on
 * 127.0.0.1, `now` fixed. One table of attacks and mistakes, each with the reason it must get.
 */
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyStore } from '../../../src/keys/store.js';
import { signedPartSha256 } from '../../../src/token/hash.js';
import { TokenVerifier } from '../../../src/token/verify.js';
import type { CompiledPolicy } from '../../../src/policy/types.js';
import { startServer, type TestServer } from '../keys/server.js';
import {
  AUDIENCE,
  KEYGEN_TIMEOUT_MS,
  NOW,
  b64url,
  claims,
  ecKey,
  edKey,
  issuer,
  jws,
  malleate,
  policy,
  publicPem,
  rsaKey,
  type TestKey,
} from '../../support/tokens.js';

const RS_ONLY = 'https://rs-only.example.com/';

let idp: TestServer;
let attacker: TestServer;
let store: KeyStore;
let verifier: TokenVerifier;
let pol: CompiledPolicy;
let rsa: TestKey;
let pinned: TestKey;
let ec: TestKey;
let ed: TestKey;
let evil: TestKey;
let evilEc: TestKey;

beforeAll(async () => {
  rsa = rsaKey('rsa-1');
  pinned = rsaKey('rsa-pinned', 'RS256');
  ec = ecKey('ec-1');
  ed = edKey('ed-1');
  evil = rsaKey('evil');
  evilEc = ecKey('ec-1'); // same kid as the genuine EC key
  idp = await startServer();
  attacker = await startServer();
  idp.routes.set('/jwks.json', () => ({ body: { keys: [rsa.jwk, pinned.jwk, ec.jwk, ed.jwk] } }));
  attacker.routes.set('/jwks.json', () => ({ body: { keys: [evil.jwk] } }));
  store = new KeyStore({ unknownKidCooldownMs: 0 });
  pol = policy([
    issuer(
      { kind: 'jwksUri', uri: `${idp.origin}/jwks.json` },
      { algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'] },
    ),
    issuer({ kind: 'inline', keys: [rsa.jwk] }, { issuer: RS_ONLY, algorithms: ['RS256'] }),
  ]);
  await store.sync(pol.issuers.values());
  verifier = new TokenVerifier(store);
}, KEYGEN_TIMEOUT_MS);

afterAll(async () => {
  store.close();
  await idp.close();
  await attacker.close();
});

const good = (key: TestKey, alg: string, extra: Record<string, unknown> = {}): string =>
  jws({ alg, kid: key.kid, typ: 'JWT' }, claims(extra), key.privateKey);

/** Replace one part (0 header, 1 payload, 2 signature) of a token. */
function withPart(token: string, index: number, part: string): string {
  const parts = token.split('.');
  parts[index] = part;
  return parts.join('.');
}

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
    token: () => `${good(rsa, 'RS256')}.AAAA`,
    reason: 'malformed',
    description: 'three dot-separated parts',
  },
  {
    name: 'an empty header',
    token: () => withPart(good(rsa, 'RS256'), 0, ''),
    reason: 'malformed',
    description: 'empty part',
  },
  {
    name: 'an empty payload',
    token: () => withPart(good(rsa, 'RS256'), 1, ''),
    reason: 'malformed',
    description: 'empty part',
  },
  {
    name: 'bad base64 in the header',
    token: () => withPart(good(rsa, 'RS256'), 0, 'e*J'),
    reason: 'malformed',
    description: 'header is not base64url',
  },
  {
    name: 'a header that is not JSON',
    token: () => withPart(good(rsa, 'RS256'), 0, b64url('{alg:RS256')),
    reason: 'malformed',
    description: 'header is not a JSON object',
  },
  {
    name: 'a header that is a JSON array',
    token: () => withPart(good(rsa, 'RS256'), 0, b64url(['RS256'])),
    reason: 'malformed',
    description: 'header is not a JSON object',
  },
  {
    name: 'a payload that is not JSON',
    token: () => withPart(good(rsa, 'RS256'), 1, b64url('sub=1')),
    reason: 'malformed',
    description: 'payload is not a JSON object',
  },
  {
    name: 'non-ASCII in the token',
    token: () => withPart(good(rsa, 'RS256'), 1, `${P()}ü`),
    reason: 'malformed',
    description: 'payload is not base64url',
  },
  {
    name: 'a 64 KiB token',
    token: () => good(rsa, 'RS256', { pad: 'x'.repeat(64 * 1024) }),
    reason: 'malformed',
    description: 'longer than 16384',
  },
  {
    name: 'a crit header',
    token: () => jws({ alg: 'RS256', kid: 'rsa-1', crit: ['x'], x: 1 }, claims(), rsa.privateKey),
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
    token: () => jws({ alg: 'HS256', kid: 'rsa-1' }, claims(), Buffer.from(publicPem(rsa))),
    reason: 'alg_not_allowed',
    description: 'alg HS256 is never accepted',
  },
  {
    name: 'an alg outside the issuer allow-list',
    token: () => good(ec, 'ES256', { iss: RS_ONLY }),
    reason: 'alg_not_allowed',
    description: 'alg ES256 is not allowed for this issuer (allowed: RS256)',
  },
  {
    name: 'an RS256 header on an EC key',
    token: () => jws({ alg: 'RS256', kid: 'ec-1' }, claims(), rsa.privateKey),
    reason: 'bad_signature',
    description: 'a EC P-256 key cannot verify RS256',
  },
  {
    name: 'an ES256 header on an RSA key',
    token: () => jws({ alg: 'ES256', kid: 'rsa-1' }, claims(), ec.privateKey),
    reason: 'bad_signature',
    description: 'a RSA key cannot verify ES256',
  },
  {
    name: 'PS256 on a key pinned to RS256',
    token: () => jws({ alg: 'PS256', kid: 'rsa-pinned' }, claims(), pinned.privateKey),
    reason: 'bad_signature',
    description: 'pinned to RS256, not PS256',
  },

  // ---- key-selection attacks --------------------------------------------------------------
  {
    name: 'an embedded jwk header with the attacker key (no kid, one genuine ES256 key) is ignored',
    token: () => jws({ alg: 'ES256', jwk: evilEc.jwk }, claims(), evilEc.privateKey),
    reason: 'bad_signature',
    description: 'the signature does not verify',
  },
  {
    name: 'an embedded jwk header with the attacker key (no kid, two genuine RS256 keys) is ignored',
    token: () => jws({ alg: 'RS256', jwk: evil.jwk }, claims(), evil.privateKey),
    reason: 'unknown_key',
    description: 'the token has no kid and 2 keys of its issuer fit RS256',
  },
  {
    name: 'an embedded jwk header with the attacker kid is ignored',
    token: () => jws({ alg: 'RS256', kid: 'evil', jwk: evil.jwk }, claims(), evil.privateKey),
    reason: 'unknown_key',
    description: 'no key with kid "evil"',
  },
  {
    name: 'a jku header pointing at the attacker JWKS is ignored',
    token: () =>
      jws({ alg: 'RS256', kid: 'evil', jku: `${attacker.origin}/jwks.json` }, claims(), evil.privateKey),
    reason: 'unknown_key',
    description: 'no key with kid "evil"',
  },
  {
    name: 'an x5u header pointing at the attacker is ignored',
    token: () =>
      jws({ alg: 'RS256', kid: 'rsa-1', x5u: `${attacker.origin}/cert.pem` }, claims(), evil.privateKey),
    reason: 'bad_signature',
    description: 'the signature does not verify',
  },
  {
    name: 'an x5c header with an attacker chain is ignored',
    token: () => jws({ alg: 'RS256', kid: 'rsa-1', x5c: [b64url('not a cert')] }, claims(), evil.privateKey),
    reason: 'bad_signature',
    description: 'the signature does not verify',
  },
  {
    name: 'a path-traversal kid just does not match',
    token: () => jws({ alg: 'RS256', kid: '../../etc/passwd' }, claims(), rsa.privateKey),
    reason: 'unknown_key',
    description: 'no key with the kid of the token',
  },

  // ---- signature attacks ------------------------------------------------------------------
  {
    name: 'a signature by another key under the genuine kid',
    token: () => good(evilEc, 'ES256'),
    reason: 'bad_signature',
    description: 'the signature does not verify',
  },
  {
    name: 'an ECDSA signature with r = s = 0',
    token: () => withPart(good(ec, 'ES256'), 2, Buffer.alloc(64).toString('base64url')),
    reason: 'bad_signature',
    description: 'the signature does not verify',
  },
  {
    name: 'an ECDSA signature of the wrong length',
    token: () => withPart(good(ec, 'ES256'), 2, Buffer.alloc(63, 1).toString('base64url')),
    reason: 'bad_signature',
    description: 'the signature does not verify',
  },
  {
    name: 'a tampered payload',
    token: () => withPart(good(rsa, 'RS256'), 1, b64url(claims({ sub: 'admin' }))),
    reason: 'bad_signature',
    description: 'the signature does not verify',
  },
  {
    name: 'a tampered header',
    token: () => withPart(good(rsa, 'RS256'), 0, b64url({ alg: 'RS256', kid: 'rsa-1', typ: 'at+jwt' })),
    reason: 'bad_signature',
    description: 'the signature does not verify',
  },

  // ---- issuer and claims (after the signature) --------------------------------------------
  {
    name: 'an unknown issuer',
    token: () => good(rsa, 'RS256', { iss: 'https://evil.example/' }),
    reason: 'wrong_issuer',
    description: 'not one this policy trusts',
  },
  {
    name: 'a wrong audience',
    token: () => good(rsa, 'RS256', { aud: 'payments' }),
    reason: 'wrong_audience',
    description: `not one of: ${AUDIENCE}`,
  },
  {
    name: 'an expired token',
    token: () => good(ec, 'ES256', { exp: NOW - 3600 }),
    reason: 'expired',
    description: 'expired at',
  },
  {
    name: 'a token not yet valid',
    token: () => good(ed, 'EdDSA', { nbf: NOW + 3600 }),
    reason: 'not_yet_valid',
    description: 'not valid before',
  },
];

describe('TokenVerifier.verify refuses', () => {
  it.each(refusals)('$name', async ({ token: make, reason, description }) => {
    const token = make();
    const got = await verifier.verify(token, pol, NOW);
    expect(got.ok).toBe(false);
    if (got.ok) return;
    expect(got.reason).toBe(reason);
    if (typeof description === 'string') expect(got.description).toContain(description);
    else expect(got.description).toMatch(description);
    // Never the token, nor any part of it, in a description.
    for (const part of token.split('.')) if (part.length >= 8) expect(got.description).not.toContain(part);
  });

  it('never contacts a URL named by the token', () => {
    expect(attacker.requests).toEqual([]);
    expect(idp.requests.every((p) => p === '/jwks.json')).toBe(true);
  });

  it('carries the fingerprint and the unverified claims of a refused token, for logs', async () => {
    const token = good(rsa, 'RS256', { aud: 'payments' });
    const got = await verifier.verify(token, pol, NOW);
    expect(got).toMatchObject({
      ok: false,
      fingerprint: signedPartSha256(token).slice(0, 12),
      claims: { sub: 'user-42' },
    });
  });
});

describe('TokenVerifier.verify accepts', () => {
  const accepted = [
    { name: 'RS256', token: () => good(rsa, 'RS256') },
    { name: 'PS256', token: () => good(rsa, 'PS256') },
    { name: 'ES256', token: () => good(ec, 'ES256') },
    { name: 'EdDSA', token: () => good(ed, 'EdDSA') },
    { name: 'RS256 on a key pinned to RS256', token: () => good(pinned, 'RS256') },
    {
      name: 'a token without kid when one key fits its alg',
      token: () => jws({ alg: 'ES256' }, claims(), ec.privateKey),
    },
    { name: 'a second issuer with inline keys', token: () => good(rsa, 'RS256', { iss: RS_ONLY }) },
    {
      name: 'an expired token still inside the clock skew',
      token: () => good(rsa, 'RS256', { exp: NOW - 29 }),
    },
  ];

  it.each(accepted)('$name', async ({ token: make }) => {
    const token = make();
    const got = await verifier.verify(token, pol, NOW);
    expect(got.ok ? 'ok' : `${got.reason}: ${got.description}`).toBe('ok');
    if (!got.ok) return;
    expect(got.tokenSha256).toBe(signedPartSha256(token));
    expect(got.fingerprint).toBe(got.tokenSha256.slice(0, 12));
    expect(got.claims.sub).toBe('user-42');
    expect(got.exp).toBe(got.claims.exp);
    expect(got.cacheUntil).toBe(got.claims.exp);
  });

  it('accepts the s → n − s twin of an ES256 token with the SAME tokenSha256, so a revocation catches both', async () => {
    const original = good(ec, 'ES256');
    const twin = malleate(original);
    const a = await verifier.verify(original, pol, NOW);
    const b = await verifier.verify(twin, pol, NOW);
    expect(a.ok && b.ok).toBe(true);
    expect(a.ok && b.ok && a.tokenSha256 === b.tokenSha256).toBe(true);
  });

  it('caches no further than the instant the token becomes too old', async () => {
    const aged = policy([...pol.issuers.values()], { maxTokenAgeSeconds: 300 });
    const got = await verifier.verify(good(rsa, 'RS256'), aged, NOW);
    expect(got.ok && got.cacheUntil).toBe(NOW - 60 + 300);
  });
});

describe('TokenVerifier.explain', () => {
  it('reports every failed check: signature and claims alike', async () => {
    const forged = withPart(good(rsa, 'RS256'), 1, b64url(claims({ aud: 'payments', exp: NOW - 3600 })));
    const got = await verifier.explain(forged, pol, NOW);
    expect(got.reasons.map((r) => r.reason)).toEqual(['bad_signature', 'wrong_audience', 'expired']);
    expect(got.claims?.sub).toBe('user-42');
  });

  it('reports a disallowed alg and still checks the signature and claims', async () => {
    const got = await verifier.explain(good(ec, 'ES256', { iss: RS_ONLY, exp: NOW - 3600 }), pol, NOW);
    // The RS256-only issuer has no key ec-1: unknown_key, found without giving up at the alg.
    expect(got.reasons.map((r) => r.reason)).toEqual(['alg_not_allowed', 'unknown_key', 'expired']);
  });

  it('reports an unknown issuer without a key lookup', async () => {
    const got = await verifier.explain(good(rsa, 'RS256', { iss: 'https://evil.example/' }), pol, NOW);
    expect(got.reasons.map((r) => r.reason)).toEqual(['wrong_issuer']);
  });

  it('reports a malformed token alone', async () => {
    expect(await verifier.explain('a.b', pol, NOW)).toEqual({
      reasons: [
        { reason: 'malformed', description: 'the token is not a compact JWS of three dot-separated parts' },
      ],
    });
  });

  it('is empty for a good token', async () => {
    const got = await verifier.explain(good(rsa, 'RS256'), pol, NOW);
    expect(got.reasons).toEqual([]);
  });
});

describe('TokenVerifier without a promise', () => {
  it('answers synchronously, accepting or refusing, when its key is at hand', () => {
    const token = good(rsa, 'RS256');
    const accepted = verifier.verify(token, pol, NOW);
    expect(accepted).not.toBeInstanceOf(Promise);
    const [h, p] = token.split('.').map((part) => Buffer.from(part, 'base64url').length);
    // jsonBytes: the received header and payload JSON, which sizes its cache entry.
    expect(accepted).toMatchObject({ ok: true, claims: { sub: 'user-42' }, jsonBytes: h! + p! });
    const forged = withPart(good(ec, 'ES256'), 2, Buffer.alloc(64, 1).toString('base64url'));
    const refused = verifier.verify(forged, pol, NOW);
    expect(refused).not.toBeInstanceOf(Promise);
    expect(refused).toMatchObject({ ok: false, reason: 'bad_signature' });
  });

  it('goes through a promise when the key layer must wait, with the same answer', async () => {
    const waiting = new TokenVerifier({
      version: 0,
      resolve: (iss, kid, alg) => Promise.resolve(store.resolve(iss, kid, alg)),
    });
    const token = good(rsa, 'RS256');
    const got = waiting.verify(token, pol, NOW);
    expect(got).toBeInstanceOf(Promise);
    expect(await got).toEqual(verifier.verify(token, pol, NOW));
  });
});

describe('TokenVerifier with a key that must not verify anything', () => {
  it('refuses a signature by an RSA key under 2048 bits as bad_signature instead of throwing', async () => {
    // A 1024-bit RSA key slipped past the key layer (a resolver that does not filter).
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const key = small.publicKey;
    const v = new TokenVerifier({ version: 0, resolve: () => Promise.resolve({ ok: true, key }) });
    const token = jws({ alg: 'RS256', kid: 'small' }, claims(), small.privateKey);
    expect(await v.verify(token, pol, NOW)).toMatchObject({ ok: false, reason: 'bad_signature' });
  });
});

describe('TokenVerifier with expectedTypes (RFC 8725 §3.11)', () => {
  const typed = (types: string[]): CompiledPolicy =>
    policy([
      {
        ...issuer({ kind: 'inline', keys: [rsa.jwk] }, { issuer: RS_ONLY, algorithms: ['RS256'] }),
        expectedTypes: new Set(types),
      },
    ]);
  const token = (header: Record<string, unknown>): string =>
    jws({ alg: 'RS256', kid: rsa.kid, ...header }, claims({ iss: RS_ONLY }), rsa.privateKey);

  const cases = [
    { name: 'accepts at+jwt', header: { typ: 'at+jwt' }, reason: undefined },
    {
      name: 'accepts application/at+jwt, any case',
      header: { typ: 'Application/AT+JWT' },
      reason: undefined,
    },
    { name: 'refuses an ID token (typ id+jwt)', header: { typ: 'id+jwt' }, reason: 'wrong_type' },
    { name: 'refuses a token without typ', header: {}, reason: 'wrong_type' },
    { name: 'refuses typ JWT', header: { typ: 'JWT' }, reason: 'wrong_type' },
    { name: 'refuses a non-string typ as malformed', header: { typ: ['at+jwt'] }, reason: 'malformed' },
  ];
  it.each(cases)('$name', async ({ header, reason }) => {
    const got = await verifier.verify(token(header), typed(['at+jwt']), NOW);
    expect(got.ok ? undefined : got.reason).toBe(reason);
  });

  it('accepts any typ, or none, when expectedTypes is not set', async () => {
    const plain = policy([
      issuer({ kind: 'inline', keys: [rsa.jwk] }, { issuer: RS_ONLY, algorithms: ['RS256'] }),
    ]);
    for (const header of [{}, { typ: 'id+jwt' }, { typ: 'JWT' }]) {
      expect((await verifier.verify(token(header), plain, NOW)).ok).toBe(true);
    }
  });

  it('is listed by explain', async () => {
    const got = await verifier.explain(token({ typ: 'id+jwt' }), typed(['at+jwt']), NOW);
    expect(got.reasons.map((r) => r.reason)).toEqual(['wrong_type']);
  });
});
