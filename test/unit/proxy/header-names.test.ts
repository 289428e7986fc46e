import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  cgiKey,
  isForwardingKey,
  isMethodOverrideKey,
  isRewriteKey,
} from '../../../src/proxy/header-names.js';
import { upstreamHeaders } from '../../../src/proxy/headers.js';
import { hostProblem } from '../../../src/proxy/host.js';

const TCHAR = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const SEPARATORS = [...TCHAR].filter((c) => !/[A-Za-z0-9]/.test(c));

/** A spelling of `name` the app reads as it: any case, any separator for each `-`. */
const spelling = (name: string) =>
  fc
    .tuple(
      fc.array(fc.boolean(), { minLength: name.length, maxLength: name.length }),
      fc.array(fc.constantFrom(...SEPARATORS), { minLength: name.length, maxLength: name.length }),
    )
    .map(([upper, sep]) =>
      [...name].map((c, i) => (c === '-' ? sep[i] : upper[i] ? c.toUpperCase() : c)).join(''),
    );

describe('cgiKey', () => {
  it('is idempotent and maps every spelling of a name to one key', () => {
    fc.assert(
      fc.property(spelling('x-auth-subject'), (s) => {
        expect(cgiKey(s)).toBe('x_auth_subject');
        expect(cgiKey(cgiKey(s))).toBe(cgiKey(s));
      }),
    );
  });
});

describe('upstreamHeaders drops every look-alike of a header the sidecar owns', () => {
  const strip = new Set(['x-auth-subject']);
  it.each([false, true])('allowUnderscores %s', (allowUnderscores) => {
    fc.assert(
      fc.property(spelling('x-auth-subject'), (name) => {
        const lower = name.toLowerCase();
        fc.pre(lower !== 'x-auth-subject');
        const out = upstreamHeaders({ [lower]: 'admin' }, strip, [], '10.0.0.1', { allowUnderscores });
        expect(Object.keys(out).filter((k) => cgiKey(k) === 'x_auth_subject')).toEqual([]);
      }),
    );
  });

  it('keeps ordinary headers, and _ names when allowed', () => {
    const out = upstreamHeaders({ 'x-request-id': '1', my_header: '2' }, strip, [], undefined, {
      allowUnderscores: true,
    });
    expect(out['x-request-id']).toBe('1');
    expect(out.my_header).toBe('2');
  });
});

describe('header classes', () => {
  it.each([
    'client-ip',
    'true-client-ip',
    'x-client-ip',
    'cf-connecting-ip',
    'x-real-ip',
    'x-forwarded-port',
    'x-forwarded-prefix',
    'x-forwarded-ssl',
    'x-forwarded-client-cert',
    'forwarded',
    'front-end-https',
    'x-original-host',
    'remote-addr',
    'ssl-client-cert',
  ])('%s is a forwarding header', (name) => {
    expect(isForwardingKey(name)).toBe(true);
    expect(isForwardingKey(cgiKey(name))).toBe(true);
  });

  it.each(['accept', 'user-agent', 'x-request-id', 'cf-ipcountry', 'traceparent', 'content-type', 'x-zip'])(
    '%s is not',
    (name) => expect(isForwardingKey(name)).toBe(false),
  );

  it.each(['x-original-url', 'X_Rewrite_URL', 'x-original-uri'])('%s is a rewrite header', (name) =>
    expect(isRewriteKey(cgiKey(name))).toBe(true),
  );

  it.each(['x-http-method-override', 'x-http-method', 'x-method-override', 'X.HTTP.Method'])(
    '%s is a method override',
    (name) => expect(isMethodOverrideKey(cgiKey(name))).toBe(true),
  );
});

describe('hostProblem', () => {
  const label = fc.stringMatching(/^[A-Za-z0-9_~-]{1,20}$/);
  const name = fc.array(label, { minLength: 1, maxLength: 4 }).map((l) => l.join('.'));
  const port = fc.integer({ min: 0, max: 65535 });

  it('accepts every name or IPv6 literal with an optional port', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          name,
          fc.ipV4(),
          fc.ipV6().map((a) => `[${a}]`),
        ),
        fc.option(port),
        (h, p) => {
          expect(hostProblem(p === null ? h : `${h}:${p}`)).toBeUndefined();
        },
      ),
    );
  });

  it('refuses any name with a character outside the unreserved set', () => {
    const bad = fc.constantFrom(
      '"',
      ',',
      '%',
      '/',
      '@',
      '!',
      '$',
      '&',
      "'",
      '(',
      ')',
      '*',
      '+',
      ';',
      '=',
      ' ',
      '\\',
    );
    fc.assert(
      fc.property(name, bad, fc.nat(), (h, c, at) => {
        const i = at % (h.length + 1);
        expect(hostProblem(h.slice(0, i) + c + h.slice(i))).toBeDefined();
      }),
    );
  });

  it.each(['', 'a:', 'a:65536', 'a:1:2', '[::1', '[::1]x', '[v1.x]', '[fe80::1%25eth0]', 'a%2Fadmin'])(
    '%j is refused',
    (h) => expect(hostProblem(h)).toBeDefined(),
  );
});
