import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { extractToken, type Extracted } from '../../../src/token/extract.js';

const T = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln';

interface Case {
  name: string;
  authorization: string | string[] | undefined;
  query?: string;
  kind: Extracted['kind'];
  /** The token (kind token) or a fragment of the description (kind malformed). */
  expect?: string;
}

const cases: Case[] = [
  { name: 'a Bearer header yields its token', authorization: `Bearer ${T}`, kind: 'token', expect: T },
  { name: 'the scheme is case-insensitive', authorization: `bEaReR ${T}`, kind: 'token', expect: T },
  {
    name: 'b64token padding is kept',
    authorization: 'Bearer abc+/~._-==',
    kind: 'token',
    expect: 'abc+/~._-==',
  },
  { name: 'a single-header array is the header', authorization: [`Bearer ${T}`], kind: 'token', expect: T },
  { name: 'no header is no token', authorization: undefined, kind: 'none' },
  { name: 'an empty header is no token', authorization: '', kind: 'none' },
  { name: 'an empty header array is no token', authorization: [], kind: 'none' },
  { name: 'Basic credentials are no bearer token', authorization: 'Basic dXNlcjpwYXNz', kind: 'none' },
  {
    name: 'a scheme that only starts with Bearer is malformed (apps testing startsWith read a token)',
    authorization: `Bearerx ${T}`,
    kind: 'malformed',
    expect: 'begins with Bearer',
  },
  { name: 'a scheme shorter than Bearer is another scheme', authorization: `Bear ${T}`, kind: 'none' },
  {
    name: 'a scheme with a non-ASCII look-alike is outside the credentials syntax: malformed',
    authorization: `Beare\u0280 ${T}`,
    kind: 'malformed',
    expect: 'something other than a space',
  },
  {
    name: 'two Authorization headers are malformed',
    authorization: [`Bearer ${T}`, `Bearer ${T}`],
    kind: 'malformed',
    expect: 'more than one Authorization header',
  },
  {
    name: 'Bearer alone is malformed',
    authorization: 'Bearer',
    kind: 'malformed',
    expect: 'without a token',
  },
  {
    name: 'Bearer and a space is malformed',
    authorization: 'Bearer ',
    kind: 'malformed',
    expect: 'without a token',
  },
  {
    name: 'two spaces are malformed',
    authorization: `Bearer  ${T}`,
    kind: 'malformed',
    expect: 'more than one space',
  },
  {
    name: 'a tab separator is malformed',
    authorization: `Bearer\t${T}`,
    kind: 'malformed',
    expect: 'tab after Bearer',
  },
  {
    name: 'a trailing space is malformed',
    authorization: `Bearer ${T} `,
    kind: 'malformed',
    expect: 'b64token',
  },
  {
    name: 'a second word is malformed',
    authorization: `Bearer ${T} x`,
    kind: 'malformed',
    expect: 'b64token',
  },
  { name: 'a comma is malformed', authorization: `Bearer a,b`, kind: 'malformed', expect: 'b64token' },
  {
    name: 'a character after padding is malformed',
    authorization: 'Bearer ab=c',
    kind: 'malformed',
    expect: 'b64token',
  },
  { name: 'padding alone is malformed', authorization: 'Bearer ==', kind: 'malformed', expect: 'b64token' },
  { name: 'non-ASCII is malformed', authorization: 'Bearer abcé', kind: 'malformed', expect: 'b64token' },
  { name: 'a NUL is malformed', authorization: 'Bearer ab\u0000c', kind: 'malformed', expect: 'b64token' },
  {
    name: 'a token in the query alone is refused',
    authorization: undefined,
    query: `access_token=${T}`,
    kind: 'malformed',
    expect: 'query parameter are not accepted',
  },
  {
    name: 'a token in the query with a leading ? is refused',
    authorization: undefined,
    query: `?a=1&access_token=${T}`,
    kind: 'malformed',
    expect: 'query parameter are not accepted',
  },
  {
    name: 'a percent-encoded access_token name is refused',
    authorization: undefined,
    query: `access%5Ftoken=${T}`,
    kind: 'malformed',
    expect: 'query parameter are not accepted',
  },
  {
    name: 'an access_token without a value is refused',
    authorization: 'Basic dXNlcjpwYXNz',
    query: 'access_token',
    kind: 'malformed',
    expect: 'query parameter are not accepted',
  },
  {
    name: 'a token in the header and the query is malformed',
    authorization: `Bearer ${T}`,
    query: `access_token=${T}`,
    kind: 'malformed',
    expect: 'both the Authorization header and the access_token query parameter',
  },
  {
    name: 'other query parameters do not matter',
    authorization: `Bearer ${T}`,
    query: 'my_access_token=1&access_tokens=2&x=access_token&%zz=1',
    kind: 'token',
    expect: T,
  },
];

describe('extractToken', () => {
  it.each(cases)('$name', ({ authorization, query, kind, expect: expected }) => {
    const got = extractToken(authorization, query ?? '');
    expect(got.kind).toBe(kind);
    if (got.kind === 'token') expect(got.token).toBe(expected);
    if (got.kind === 'malformed') {
      expect(got.description).toContain(expected);
      // The description is safe to log: it never carries the token.
      expect(got.description).not.toContain(T);
    }
  });
});

const B64TOKEN_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/'.split('');

const b64token = fc
  .tuple(fc.string({ unit: fc.constantFrom(...B64TOKEN_CHARS), minLength: 1, maxLength: 300 }), fc.nat(3))
  .map(([body, pad]) => body + '='.repeat(pad));

/** "bearer" in any mix of cases. */
const bearer = fc.tuple(...'bearer'.split('').map(() => fc.boolean())).map((upper) =>
  'bearer'
    .split('')
    .map((c, i) => (upper[i] ? c.toUpperCase() : c))
    .join(''),
);

describe('extractToken properties', () => {
  it('extracts exactly t from "Bearer t" for any b64token t and any case of the scheme', () => {
    fc.assert(
      fc.property(bearer, b64token, (scheme, t) => {
        expect(extractToken(`${scheme} ${t}`, '')).toEqual({ kind: 'token', token: t });
      }),
    );
  });

  it('never throws and always answers one of the three kinds, whatever the header and query', () => {
    const header = fc.oneof(
      fc.string(),
      fc.string({ unit: 'binary' }),
      bearer.map((b) => `${b} `).chain((p) => fc.string().map((s) => p + s)),
    );
    fc.assert(
      fc.property(
        fc.option(fc.oneof(header, fc.array(header)), { nil: undefined }),
        fc.string(),
        (auth, query) => {
          const got = extractToken(auth, query);
          expect(['none', 'token', 'malformed']).toContain(got.kind);
        },
      ),
    );
  });

  it('a token it returns is always a valid b64token taken verbatim from the header', () => {
    fc.assert(
      fc.property(fc.string(), (rest) => {
        const got = extractToken(`Bearer ${rest}`, '');
        if (got.kind === 'token') {
          expect(got.token).toBe(rest);
          expect(/^[A-Za-z0-9\-._~+/]+=*$/.test(got.token)).toBe(true);
        }
      }),
    );
  });
});
