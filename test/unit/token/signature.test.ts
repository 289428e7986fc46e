/**
 * The node:crypto signature check against signatures made by jose (an independent
 * implementation): every asymmetric JOSE alg verifies, and nothing else does.
 */
import {
  generateKeyPairSync,
  createPrivateKey,
  sign as nodeSign,
  webcrypto,
  type KeyObject,
} from 'node:crypto';
import { CompactSign, exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import { importKey } from '../../../src/keys/jwks.js';
import { describe, expect, it } from 'vitest';
import { ALGORITHMS, type Algorithm } from '../../../src/policy/types.js';
import { signatureValid } from '../../../src/token/signature.js';

const PAYLOAD = new TextEncoder().encode(JSON.stringify({ sub: 'alice', iss: 'https://issuer.test/' }));

interface Pair {
  alg: Algorithm;
  verifyKey: KeyObject;
  signKey: CryptoKey;
}

async function pairFor(alg: Algorithm): Promise<Pair> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  // Import the public half the way the key store does (src/keys/jwks.ts, from its JWK).
  const verifyKey = importKey(await exportJWK(publicKey));
  if (verifyKey === undefined) throw new Error(`the key store refuses a ${alg} key`);
  return { alg, verifyKey, signKey: privateKey };
}

async function signed(p: Pair): Promise<{ signedPart: string; signature: string }> {
  const token = await new CompactSign(PAYLOAD).setProtectedHeader({ alg: p.alg }).sign(p.signKey);
  const dot = token.lastIndexOf('.');
  return { signedPart: token.slice(0, dot), signature: token.slice(dot + 1) };
}

const pairs = await Promise.all(ALGORITHMS.map(pairFor));

describe('signatureValid', () => {
  it.each(pairs.map((p) => ({ name: p.alg, p })))('accepts a genuine $name signature', async ({ p }) => {
    const { signedPart, signature } = await signed(p);
    expect(signatureValid(p.alg, signedPart, signature, p.verifyKey)).toBe(true);
  });

  it.each(pairs.map((p) => ({ name: p.alg, p })))(
    'refuses a $name signature over another payload',
    async ({ p }) => {
      const { signedPart, signature } = await signed(p);
      expect(signatureValid(p.alg, `${signedPart}x`, signature, p.verifyKey)).toBe(false);
    },
  );

  it.each(pairs.map((p) => ({ name: p.alg, p })))(
    'refuses a $name signature with one bit flipped',
    async ({ p }) => {
      const { signedPart, signature } = await signed(p);
      const bytes = Buffer.from(signature, 'base64url');
      bytes[bytes.length >> 1]! ^= 0x01;
      expect(signatureValid(p.alg, signedPart, bytes.toString('base64url'), p.verifyKey)).toBe(false);
    },
  );

  it('refuses when the alg asks for another key type or curve than the key has', async () => {
    const byAlg = Object.fromEntries(pairs.map((p) => [p.alg, p])) as Record<Algorithm, Pair>;
    const es256 = await signed(byAlg.ES256);
    // The same bytes presented under algs whose key type or curve differ.
    for (const alg of ['RS256', 'PS256', 'ES384', 'ES512', 'EdDSA'] as const) {
      expect(signatureValid(alg, es256.signedPart, es256.signature, byAlg.ES256.verifyKey), alg).toBe(false);
    }
    const rs256 = await signed(byAlg.RS256);
    expect(signatureValid('PS256', rs256.signedPart, rs256.signature, byAlg.RS256.verifyKey)).toBe(false);
    expect(signatureValid('ES256', rs256.signedPart, rs256.signature, byAlg.RS256.verifyKey)).toBe(false);
  });

  it('refuses ECDSA signatures in DER form, of the wrong length, or with r = s = 0', async () => {
    const p = pairs.find((x) => x.alg === 'ES256')!;
    const { signedPart } = await signed(p);
    const der = nodeSign('sha256', Buffer.from(signedPart), createPrivateKey(await exportPem(p)));
    expect(signatureValid('ES256', signedPart, der.toString('base64url'), p.verifyKey)).toBe(false);
    expect(signatureValid('ES256', signedPart, Buffer.alloc(63).toString('base64url'), p.verifyKey)).toBe(
      false,
    );
    expect(signatureValid('ES256', signedPart, Buffer.alloc(64).toString('base64url'), p.verifyKey)).toBe(
      false,
    );
  });

  it('refuses an RSA key under 2048 bits even when the signature is genuine', () => {
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 });
    // The key store refuses to import it; pass the KeyObject directly, as a careless resolver might.
    expect(importKey({ ...small.publicKey.export({ format: 'jwk' }), alg: 'RS256' })).toBeUndefined();
    const signedPart = 'eyJhbGciOiJSUzI1NiJ9.e30';
    const sig = nodeSign('sha256', Buffer.from(signedPart), small.privateKey).toString('base64url');
    expect(signatureValid('RS256', signedPart, sig, small.publicKey)).toBe(false);
  });

  it('refuses a private key passed where a public key belongs', () => {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const signedPart = 'eyJhbGciOiJFUzI1NiJ9.e30';
    const sig = nodeSign('sha256', Buffer.from(signedPart), {
      key: pair.privateKey,
      dsaEncoding: 'ieee-p1363',
    }).toString('base64url');
    expect(signatureValid('ES256', signedPart, sig, pair.publicKey)).toBe(true);
    expect(signatureValid('ES256', signedPart, sig, pair.privateKey)).toBe(false);
  });
});

async function exportPem(p: Pair): Promise<string> {
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', p.signKey);
  return `-----BEGIN PRIVATE KEY-----\n${Buffer.from(pkcs8).toString('base64')}\n-----END PRIVATE KEY-----\n`;
}
