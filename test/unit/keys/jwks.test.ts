import { generateKeyPairSync } from 'node:crypto';
import type { JWK } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildKeySet, fitProblem, matchKey, MAX_KEYS, type KeySet } from '../../../src/keys/jwks.js';
import type { Algorithm } from '../../../src/policy/types.js';
import { KEYGEN_TIMEOUT_MS, ecKey, edKey, rsaKey, type TestKey } from '../../support/tokens.js';

let rsa: TestKey;
let ec: TestKey;
let ed: TestKey;

beforeAll(() => {
  rsa = rsaKey('rsa-1');
  ec = ecKey('ec-1');
  ed = edKey('ed-1');
}, KEYGEN_TIMEOUT_MS);

async function kids(keys: unknown[]): Promise<(string | undefined)[]> {
  const built = await buildKeySet({ keys });
  if (!built.ok) throw new Error(built.error);
  return built.set.entries.map((e) => e.kid);
}

/** A fresh public JWK made by node:crypto (kid `node-<type>-<curve>`). */
function nodeJwk(type: 'ec' | 'ed448', namedCurve?: string): JWK {
  const { publicKey } =
    type === 'ec' ? generateKeyPairSync('ec', { namedCurve: namedCurve! }) : generateKeyPairSync('ed448');
  return { ...(publicKey.export({ format: 'jwk' }) as JWK), kid: `node-${type}-${namedCurve ?? ''}` };
}

describe('buildKeySet keeps only public signature keys', () => {
  const cases: { name: string; key: () => unknown; kept: boolean }[] = [
    { name: 'an RSA public key', key: () => rsa.jwk, kept: true },
    { name: 'an EC P-256 public key', key: () => ec.jwk, kept: true },
    { name: 'an Ed25519 public key', key: () => ed.jwk, kept: true },
    { name: 'a key with use=sig', key: () => ({ ...rsa.jwk, use: 'sig' }), kept: true },
    { name: 'a key with key_ops [verify]', key: () => ({ ...rsa.jwk, key_ops: ['verify'] }), kept: true },
    { name: 'not a key with use=enc', key: () => ({ ...rsa.jwk, use: 'enc' }), kept: false },
    {
      name: 'not a key with key_ops [encrypt]',
      key: () => ({ ...rsa.jwk, key_ops: ['encrypt'] }),
      kept: false,
    },
    { name: 'not a symmetric key', key: () => ({ kty: 'oct', kid: 'rsa-1', k: 'c2VjcmV0' }), kept: false },
    { name: 'not a key with a private member', key: () => ({ ...rsa.jwk, d: 'AQAB' }), kept: false },
    { name: 'not an EC key with its private scalar', key: () => ({ ...ec.jwk, d: 'AQAB' }), kept: false },
    { name: 'not a key pinned to HS256', key: () => ({ ...rsa.jwk, alg: 'HS256' }), kept: false },
    { name: 'not a key pinned to RSA-OAEP', key: () => ({ ...rsa.jwk, alg: 'RSA-OAEP' }), kept: false },
    {
      name: 'not a key whose alg does not fit its type',
      key: () => ({ ...rsa.jwk, alg: 'ES256' }),
      kept: false,
    },
    { name: 'not a key with a numeric kid', key: () => ({ ...rsa.jwk, kid: 7 }), kept: false },
    { name: 'not an unknown key type', key: () => ({ ...rsa.jwk, kty: 'XYZ' }), kept: false },
    { name: 'not a key node:crypto cannot import', key: () => ({ ...ec.jwk, x: 'AAAA' }), kept: false },
    {
      name: 'not an RSA key under 2048 bits',
      key: () => ({ ...rsa.jwk, n: rsa.jwk.n!.slice(0, 172) }),
      kept: false,
    },
    {
      name: 'not an EC key on an unsupported curve',
      key: () => ({ ...ec.jwk, crv: 'secp256k1' }),
      kept: false,
    },
    { name: 'not a non-object', key: () => 'rsa-1', kept: false },
    { name: 'an EC P-384 public key', key: () => nodeJwk('ec', 'P-384'), kept: true },
    { name: 'an EC P-521 public key', key: () => nodeJwk('ec', 'P-521'), kept: true },
    { name: 'an Ed448 public key', key: () => nodeJwk('ed448'), kept: true },
    {
      name: 'not an EC key whose point is on another curve than its crv',
      key: () => ({ ...ec.jwk, crv: 'P-384' }),
      kept: false,
    },
    {
      name: 'not an OKP key whose crv is not its type',
      key: () => ({ ...ed.jwk, crv: 'Ed448' }),
      kept: false,
    },
    { name: 'not an RSA key without its exponent', key: () => ({ ...rsa.jwk, e: undefined }), kept: false },
  ];

  it.each(cases)('$name', async ({ key, kept }) => {
    expect(await kids([key()])).toEqual(kept ? [(key() as JWK).kid] : []);
  });

  it('holds each kept key as a node:crypto public KeyObject of its own type and curve', async () => {
    const built = await buildKeySet({ keys: [rsa.jwk, ec.jwk, ed.jwk] });
    if (!built.ok) throw new Error(built.error);
    expect(
      built.set.entries.map((e) => [
        e.key.type,
        e.key.asymmetricKeyType,
        e.key.asymmetricKeyDetails?.namedCurve,
      ]),
    ).toEqual([
      ['public', 'rsa', undefined],
      ['public', 'ec', 'prime256v1'],
      ['public', 'ed25519', undefined],
    ]);
    expect(built.set.entries[0]!.key.equals(rsa.publicKey)).toBe(true);
  });

  it('refuses a document that is not a JWK set', async () => {
    for (const doc of [null, [], { keys: {} }, 'keys', { kid: 'x' }]) {
      expect(await buildKeySet(doc)).toEqual({
        ok: false,
        error: 'the document is not a JWK set (no "keys" array)',
      });
    }
  });

  it(`looks at no more than ${MAX_KEYS} keys`, async () => {
    const many = Array.from({ length: MAX_KEYS + 5 }, (_, i) => ({ ...ec.jwk, kid: `k${i}` }));
    expect(await kids(many)).toHaveLength(MAX_KEYS);
  });

  it('gives equal sets equal ids and different sets different ids', async () => {
    const a = await buildKeySet({ keys: [rsa.jwk, ec.jwk] });
    const b = await buildKeySet({ keys: [rsa.jwk, ec.jwk, { kty: 'oct', k: 'eA' }] });
    const c = await buildKeySet({ keys: [rsa.jwk] });
    expect(a.ok && b.ok && a.set.id === b.set.id).toBe(true);
    expect(a.ok && c.ok && a.set.id !== c.set.id).toBe(true);
  });
});

describe('matchKey', () => {
  let set: KeySet;
  let twoRsa: KeySet;
  beforeAll(async () => {
    const built = await buildKeySet({ keys: [rsa.jwk, ec.jwk, { ...ed.jwk, alg: 'EdDSA' }] });
    const built2 = await buildKeySet({ keys: [rsa.jwk, { ...rsaKey('rsa-2').jwk }] });
    if (!built.ok || !built2.ok) throw new Error('fixture');
    set = built.set;
    twoRsa = built2.set;
  }, KEYGEN_TIMEOUT_MS);

  const cases: { name: string; kid: string | undefined; alg: Algorithm; kind: string; two?: boolean }[] = [
    { name: 'finds a key by kid and fitting alg', kid: 'rsa-1', alg: 'RS256', kind: 'found' },
    {
      name: 'an RSA key fits every RSA alg it is not pinned against',
      kid: 'rsa-1',
      alg: 'PS384',
      kind: 'found',
    },
    { name: 'finds the EC key for ES256', kid: 'ec-1', alg: 'ES256', kind: 'found' },
    { name: 'an EC P-256 key does not fit ES384', kid: 'ec-1', alg: 'ES384', kind: 'unfit' },
    { name: 'an EC key does not fit RS256', kid: 'ec-1', alg: 'RS256', kind: 'unfit' },
    { name: 'an unknown kid is none', kid: 'rsa-9', alg: 'RS256', kind: 'none' },
    {
      name: 'a path-traversal kid is just an unknown kid',
      kid: '../../etc/passwd',
      alg: 'RS256',
      kind: 'none',
    },
    { name: 'a kid differing only in case is unknown', kid: 'RSA-1', alg: 'RS256', kind: 'none' },
    { name: 'without kid, the single fitting key', kid: undefined, alg: 'ES256', kind: 'found' },
    { name: 'without kid and no fitting key, none', kid: undefined, alg: 'ES512', kind: 'none' },
    {
      name: 'without kid and two fitting keys, ambiguous',
      kid: undefined,
      alg: 'RS256',
      kind: 'ambiguous',
      two: true,
    },
  ];

  it.each(cases)('$name', ({ kid, alg, kind, two }) => {
    expect(matchKey(two ? twoRsa : set, kid, alg).kind).toBe(kind);
  });

  it('a key pinned to one alg does not fit another', () => {
    expect(fitProblem({ ...rsa.jwk, alg: 'RS256' }, 'PS256')).toBe('the key is pinned to RS256, not PS256');
    expect(fitProblem(ec.jwk, 'RS256')).toBe('a EC P-256 key cannot verify RS256');
    expect(fitProblem(rsa.jwk, 'EdDSA')).toBe('a RSA key cannot verify EdDSA');
  });
});
