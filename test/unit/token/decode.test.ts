import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeToken,
  HEADER_CACHE_ENTRIES,
  HEADER_CACHE_MAX_LENGTH,
  MAX_TOKEN_LENGTH,
  rememberedHeaders,
} from '../../../src/token/decode.js';
import { b64url } from '../../support/tokens.js';

const H = b64url({ alg: 'RS256', kid: 'k1' });
const P = b64url({ sub: 'user-42' });
const S = b64url('signature-bytes');

const malformed: { name: string; token: string; description: string }[] = [
  { name: 'one part', token: 'abc', description: 'three dot-separated parts' },
  { name: 'two parts', token: `${H}.${P}`, description: 'three dot-separated parts' },
  { name: 'four parts', token: `${H}.${P}.${S}.${S}`, description: 'three dot-separated parts' },
  { name: 'five parts (a JWE)', token: `${H}.${P}.${S}.${S}.${S}`, description: 'three dot-separated parts' },
  { name: 'an empty header', token: `.${P}.${S}`, description: 'empty part' },
  { name: 'an empty payload', token: `${H}..${S}`, description: 'empty part' },
  { name: 'an empty signature', token: `${H}.${P}.`, description: 'empty part' },
  { name: 'only dots', token: '..', description: 'empty part' },
  { name: 'standard base64 characters', token: `${H}.${P}.ab+/`, description: 'signature is not base64url' },
  { name: 'base64 padding', token: `${H}=.${P}.${S}`, description: 'header is not base64url' },
  {
    name: 'an impossible base64 length',
    token: `${H}.${P}.abcde`,
    description: 'signature is not base64url',
  },
  {
    name: 'non-zero trailing bits (a second spelling)',
    token: `${H}.${P}.AB`,
    description: 'signature is not base64url',
  },
  { name: 'non-ASCII', token: `${H}.${P}é.${S}`, description: 'payload is not base64url' },
  {
    name: 'a header that is not JSON',
    token: `${b64url('not json')}.${P}.${S}`,
    description: 'header is not a JSON object',
  },
  {
    name: 'a header that is a JSON array',
    token: `${b64url([{ alg: 'RS256' }])}.${P}.${S}`,
    description: 'header is not a JSON object',
  },
  {
    name: 'a header that is JSON null',
    token: `${b64url('null')}.${P}.${S}`,
    description: 'header is not a JSON object',
  },
  {
    name: 'a header that is not UTF-8',
    token: `${Buffer.from([0xff, 0xfe, 0x7b]).toString('base64url')}.${P}.${S}`,
    description: 'header is not a JSON object',
  },
  {
    name: 'a payload that is a JSON string',
    token: `${H}.${b64url('"sub"')}.${S}`,
    description: 'payload is not a JSON object',
  },
  {
    name: 'a payload that is a JSON array',
    token: `${H}.${b64url([1])}.${S}`,
    description: 'payload is not a JSON object',
  },
  { name: 'a header without alg', token: `${b64url({ kid: 'k1' })}.${P}.${S}`, description: 'has no alg' },
  {
    name: 'a header with a numeric alg',
    token: `${b64url({ alg: 256 })}.${P}.${S}`,
    description: 'has no alg',
  },
  {
    name: 'a header with a numeric kid',
    token: `${b64url({ alg: 'RS256', kid: 7 })}.${P}.${S}`,
    description: 'kid is not a string',
  },
  {
    name: 'a crit header',
    token: `${b64url({ alg: 'RS256', crit: ['exp'], exp: 1 })}.${P}.${S}`,
    description: 'crit',
  },
  { name: 'b64: false', token: `${b64url({ alg: 'RS256', b64: false })}.${P}.${S}`, description: 'b64' },
  { name: 'a 64 KiB token', token: `${H}.${b64url('x'.repeat(48 * 1024))}.${S}`, description: 'longer than' },
];

describe('decodeToken refuses', () => {
  it.each(malformed)('$name', ({ token, description }) => {
    const got = decodeToken(token);
    expect(got.ok).toBe(false);
    if (got.ok) return;
    expect(got.reason).toBe('malformed');
    expect(got.description).toContain(description);
  });
});

describe('decodeToken accepts', () => {
  it('a well-formed token, with its signed part', () => {
    const got = decodeToken(`${H}.${P}.${S}`);
    expect(got).toEqual({
      ok: true,
      value: { header: { alg: 'RS256', kid: 'k1' }, payload: { sub: 'user-42' }, signedPart: `${H}.${P}` },
    });
  });

  it('key-bearing header parameters as inert data (they are never followed)', () => {
    const header = {
      alg: 'RS256',
      jku: 'https://evil.example/jwks',
      x5u: 'https://evil.example/c',
      jwk: { kty: 'oct' },
    };
    const got = decodeToken(`${b64url(header)}.${P}.${S}`);
    expect(got.ok && got.value.header).toEqual(header);
  });

  it('a token exactly at the size limit, and refuses one character more', () => {
    let token = '';
    // base64url lengths skip 4k+1, so try two signature lengths to land on the limit exactly.
    for (
      let n = Math.floor(((MAX_TOKEN_LENGTH - H.length) * 3) / 4) - 30;
      token.length !== MAX_TOKEN_LENGTH;
      n++
    ) {
      for (const sig of ['AAAA', 'AAA']) {
        token = `${H}.${b64url({ pad: 'x'.repeat(n) })}.${sig}`;
        if (token.length === MAX_TOKEN_LENGTH) break;
      }
    }
    expect(decodeToken(token).ok).toBe(true);
    expect(decodeToken(`${token}A`)).toMatchObject({ ok: false, reason: 'malformed' });
  });
});

describe('decodeToken properties', () => {
  it('never throws on any string', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.string({ unit: 'binary' }),
          fc.array(fc.string(), { maxLength: 5 }).map((a) => a.join('.')),
        ),
        (s) => {
          const got = decodeToken(s);
          if (!got.ok) expect(got.reason).toBe('malformed');
        },
      ),
    );
  });

  it('round-trips any JSON object header (with alg) and payload', () => {
    const obj = fc.dictionary(
      fc.string().filter((k) => !['crit', 'b64', 'kid', '__proto__'].includes(k)),
      fc.jsonValue(),
    );
    fc.assert(
      fc.property(obj, obj, fc.uint8Array({ minLength: 1, maxLength: 64 }), (h, p, sig) => {
        const header = { ...h, alg: 'ES256' };
        const token = `${b64url(header)}.${b64url(p)}.${Buffer.from(sig).toString('base64url')}`;
        const got = decodeToken(token);
        expect(got.ok).toBe(true);
        if (got.ok) {
          expect(got.value.header).toEqual(JSON.parse(JSON.stringify(header)));
          expect(got.value.payload).toEqual(JSON.parse(JSON.stringify(p)));
        }
      }),
    );
  });
});

describe('decodeToken remembers headers that decoded cleanly', () => {
  it('gives the same header text one shared, frozen header object', () => {
    const a = decodeToken(`${H}.${P}.${S}`);
    const b = decodeToken(`${H}.${b64url({ sub: 'someone-else' })}.${S}`);
    if (!a.ok || !b.ok) throw new Error('fixture');
    expect(b.value.header).toBe(a.value.header);
    expect(Object.isFrozen(a.value.header)).toBe(true);
    expect(b.value.payload).toEqual({ sub: 'someone-else' });
  });

  it('still refuses a bad payload or signature behind a remembered header', () => {
    expect(decodeToken(`${H}.${P}.${S}`).ok).toBe(true);
    expect(decodeToken(`${H}.${P}.ab+/`)).toMatchObject({
      ok: false,
      description: expect.stringContaining('signature is not base64url'),
    });
    expect(decodeToken(`${H}.${b64url([1])}.${S}`)).toMatchObject({
      ok: false,
      description: expect.stringContaining('payload is not a JSON object'),
    });
  });

  it('never remembers a refused header: it is refused every time', () => {
    const crit = b64url({ alg: 'RS256', crit: ['exp'], exp: 1 });
    for (let i = 0; i < 3; i++) {
      expect(decodeToken(`${crit}.${P}.${S}`)).toMatchObject({
        ok: false,
        description: expect.stringContaining('crit'),
      });
    }
  });

  it(`holds at most ${HEADER_CACHE_ENTRIES} headers, none longer than ${HEADER_CACHE_MAX_LENGTH} characters`, () => {
    for (let i = 0; i < HEADER_CACHE_ENTRIES * 3; i++) {
      expect(decodeToken(`${b64url({ alg: 'RS256', kid: `k-${i}` })}.${P}.${S}`).ok).toBe(true);
      expect(rememberedHeaders()).toBeLessThanOrEqual(HEADER_CACHE_ENTRIES);
    }
    const long = b64url({ alg: 'RS256', kid: 'x'.repeat(HEADER_CACHE_MAX_LENGTH) });
    const first = decodeToken(`${long}.${P}.${S}`);
    const second = decodeToken(`${long}.${P}.${S}`);
    expect(first.ok && second.ok && first.value.header !== second.value.header).toBe(true);
    expect(second.ok && second.value.header).toEqual({
      alg: 'RS256',
      kid: 'x'.repeat(HEADER_CACHE_MAX_LENGTH),
    });
  });
});
