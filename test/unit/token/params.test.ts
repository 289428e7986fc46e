import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { authorizationProblem, credentialsProblem } from '../../../src/token/credentials.js';
import {
  paramKey,
  pathCarriesToken,
  queryCarriesToken,
  queryMethodOverrides,
  withoutTokenParams,
} from '../../../src/token/params.js';

/** A spelling a framework reads as `access_token`: case, `.`/` `/`-` for `_`, escapes, `[]`. */
const tokenName = fc
  .tuple(
    fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }),
    fc.constantFrom('_', '.', '+', '%20', '-', '%5F', '%2E'),
    fc.constantFrom('', '[]', '[0]', '%5B%5D'),
    fc.boolean(),
  )
  .map(([upper, sep, suffix, escapeA]) => {
    const word = [...'access_token'].map((c, i) => (upper[i] ? c.toUpperCase() : c)).join('');
    const name = word.replace('_', sep);
    return (escapeA ? name.replace(/^a/i, '%61') : name) + suffix;
  });
const other = fc.stringMatching(/^[a-z]{1,8}=[a-z0-9]{0,8}$/);

describe('token parameters', () => {
  it('every spelling is read as access_token and detected wherever it is in the query', () => {
    fc.assert(
      fc.property(
        tokenName,
        fc.array(other, { maxLength: 4 }),
        fc.nat(),
        fc.constantFrom('&', ';'),
        (n, rest, at, sep) => {
          expect(paramKey(n)).toBe('access_token');
          const parts = [...rest];
          parts.splice(at % (parts.length + 1), 0, `${n}=secret`);
          const query = parts.join(sep);
          expect(queryCarriesToken(query)).toBe(true);
          const kept = withoutTokenParams(query);
          expect(kept).not.toContain('secret');
          expect(queryCarriesToken(kept)).toBe(false);
          expect(kept.split(/[&;]/).filter((p) => p !== '')).toEqual(rest);
        },
      ),
    );
  });

  it('a query without a token parameter is returned as it is', () => {
    fc.assert(
      fc.property(fc.array(other, { maxLength: 5 }), (rest) => {
        const q = rest.join('&');
        expect(withoutTokenParams(q)).toBe(q);
      }),
    );
  });

  it.each(['my_access_token=1', 'access_tokens=2', 'x=access_token', '%zz=1'])('%s carries no token', (q) =>
    expect(queryCarriesToken(q)).toBe(false),
  );

  it.each(['/x;access_token=t', '/x;a=1;Access.Token=t/y', '/x%3baccess_token=t'])(
    '%s carries a token',
    (p) => expect(pathCarriesToken(p)).toBe(true),
  );

  it('reads _method in every spelling', () => {
    expect(queryMethodOverrides('_method=delete&_METHOD[]=put&.method=PATCH&x=1')).toEqual([
      'DELETE',
      'PUT',
      'PATCH',
    ]);
  });
});

describe('credentialsProblem (RFC 9110 §11.4)', () => {
  const tchar = fc.constantFrom(
    ..."!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
  );
  const token = fc.array(tchar, { minLength: 1, maxLength: 10 }).map((a) => a.join(''));
  const scheme = token.filter((s) => !s.toLowerCase().startsWith('bearer') || s.length === 6);
  const token68 = fc.stringMatching(/^[A-Za-z0-9\-._~+/]{1,20}=*$/);
  const param = fc
    .tuple(token, fc.oneof(token, fc.stringMatching(/^"[a-z ,=]*"$/)))
    .map(([k, v]) => `${k}=${v}`);

  it('accepts every scheme, alone or with a token68 or auth-params', () => {
    fc.assert(
      fc.property(
        scheme,
        fc.oneof(
          fc.constant(''),
          token68,
          fc.array(param, { minLength: 1, maxLength: 3 }).map((p) => p.join(', ')),
        ),
        (s, rest) => {
          expect(credentialsProblem(rest === '' ? s : `${s} ${rest}`)).toBeUndefined();
        },
      ),
    );
  });

  it.each([
    'Bearer,abc',
    'Bearerabc',
    'bearer_x abc',
    ',Bearer abc',
    'Basic,Bearer abc',
    'Bearer\tabc',
    'Bearer a b',
    'Digest a=,b',
    'x a="b',
  ])('%j is refused', (v) => expect(credentialsProblem(v)).toBeDefined());

  it('an empty value is no credentials, not a problem', () =>
    expect(authorizationProblem([''])).toBeUndefined());
});
