import { createHash } from 'node:crypto';
import { compactVerify, importJWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { fingerprint, signedPart, signedPartSha256, wholeTokenSha256 } from '../../../src/token/hash.js';
import { claims, ecKey, jws, malleate } from '../../support/tokens.js';

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

describe('token hashes', () => {
  const cases = [
    { name: 'the signed part stops before the last dot', token: 'aaa.bbb.ccc', signed: 'aaa.bbb' },
    { name: 'an empty signature leaves header and payload', token: 'aaa.bbb.', signed: 'aaa.bbb' },
    { name: 'a string without a dot is its own signed part', token: 'abc', signed: 'abc' },
  ];

  it.each(cases)('$name', ({ token, signed }) => {
    expect(signedPart(token)).toBe(signed);
    expect(signedPartSha256(token)).toBe(sha256(signed));
    expect(signedPartSha256(token)).toMatch(/^[0-9a-f]{64}$/);
    expect(fingerprint(token)).toBe(sha256(signed).slice(0, 12));
    expect(wholeTokenSha256(token)).toBe(sha256(token));
  });

  it('matches the README example: tokenSha256 of "test" is the SHA-256 of its signed part', () => {
    // 9f86d081… is SHA-256("test"): a token whose signed part is "test".
    expect(signedPartSha256('test.sig')).toBe(
      '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
    );
  });
});

describe('ECDSA malleability: why revocation hashes the signed part', () => {
  it('a signature rewritten s → n − s verifies, keeps its signed-part hash and changes its whole hash', async () => {
    const key = ecKey('ec-1');
    const original = jws({ alg: 'ES256', kid: key.kid }, claims(), key.privateKey);
    const malleated = malleate(original);
    expect(malleated).not.toBe(original);

    // WebCrypto (OpenSSL underneath) accepts the high-s twin: a second valid token for free.
    const publicKey = await importJWK(key.jwk, 'ES256');
    await expect(compactVerify(original, publicKey, { algorithms: ['ES256'] })).resolves.toBeDefined();
    await expect(compactVerify(malleated, publicKey, { algorithms: ['ES256'] })).resolves.toBeDefined();

    // A revocation by tokenSha256 of the original therefore catches the twin too ...
    expect(signedPartSha256(malleated)).toBe(signedPartSha256(original));
    expect(fingerprint(malleated)).toBe(fingerprint(original));
    // ... while the cache key tells them apart (each is verified on its own merits).
    expect(wholeTokenSha256(malleated)).not.toBe(wholeTokenSha256(original));
  });
});
