import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hasNonAscii, normalisePath } from '../../../src/policy/normalize.js';

const accepted: { name: string; raw: string; path: string }[] = [
  { name: 'a normal path as it is', raw: '/orders/7', path: '/orders/7' },
  { name: 'the root', raw: '/', path: '/' },
  { name: 'a file name with a dot', raw: '/static/app.js', path: '/static/app.js' },
  { name: 'a trailing slash kept', raw: '/a/', path: '/a/' },
  { name: 'a decoded unreserved letter', raw: '/%61dmin', path: '/admin' },
  { name: 'decoded unreserved marks', raw: '/%2D%2e%5F%7e%41%7A%30', path: '/-._~Az0' },
  // Was '/a%3bb%3F': an escaped ';' is a matrix parameter (ADR 0007).
  { name: 'an escaped reserved character kept, hex upper-cased', raw: '/a%3fb%2c', path: '/a%3Fb%2C' },
  { name: 'escaped UTF-8 kept', raw: '/caf%c3%a9', path: '/caf%C3%A9' },
  {
    name: 'escaped NFKC-stable non-Latin script kept',
    raw: '/%E6%97%A5%E6%9C%AC',
    path: '/%E6%97%A5%E6%9C%AC',
  },
  { name: 'a dot inside a name', raw: '/a.b/../c.d', path: '/c.d' },
  { name: 'a dot segment', raw: '/a/./b', path: '/a/b' },
  { name: 'a dot-dot segment', raw: '/healthz/../admin', path: '/admin' },
  { name: 'dot-dot written %2e%2e', raw: '/healthz/%2e%2e/admin', path: '/admin' },
  { name: 'dot-dot written %2E.', raw: '/healthz/%2E./admin', path: '/admin' },
  { name: 'dot-dot at the end leaves a directory', raw: '/a/b/..', path: '/a/' },
  { name: 'a dot at the end leaves a directory', raw: '/a/.', path: '/a/' },
  { name: 'dot-dot above the root clamped there', raw: '/../admin', path: '/admin' },
  { name: 'many dot-dots above the root', raw: '/a/../../../b', path: '/b' },
  { name: 'dot-dot to the root', raw: '/a/..', path: '/' },
  { name: 'repeated slashes folded', raw: '//admin//users///1', path: '/admin/users/1' },
  { name: 'slashes folded around dot segments', raw: '/a//..//b', path: '/b' },
  { name: 'a trailing double slash', raw: '/a//', path: '/a/' },
  { name: 'a hidden name', raw: '/.well-known/jwks.json', path: '/.well-known/jwks.json' },
];

/** Each form a common framework reads differently from the sidecar. */
const ambiguous: { name: string; raw: string; description: string }[] = [
  { name: 'a fragment', raw: '/admin#x', description: "fragment ('#') in the request target" },
  { name: 'an empty matrix parameter', raw: '/admin;/x', description: "matrix parameter (';') in path" },
  { name: 'a matrix parameter', raw: '/admin;x=1/y', description: "matrix parameter (';') in path" },
  { name: 'an encoded matrix parameter', raw: '/admin%3B/x', description: "matrix parameter (';') in path" },
  { name: 'a semicolon in a normal segment', raw: '/a;v=1/b', description: "matrix parameter (';') in path" },
  { name: 'a trailing dot', raw: '/admin./x', description: 'path segment ending in a dot or whitespace' },
  {
    name: 'an encoded trailing dot',
    raw: '/admin%2E/x',
    description: 'path segment ending in a dot or whitespace',
  },
  {
    name: 'three dots as a name',
    raw: '/a/.../b',
    description: 'path segment ending in a dot or whitespace',
  },
  {
    name: 'a last segment ending in a dot',
    raw: '/admin.',
    description: 'path segment ending in a dot or whitespace',
  },
  { name: 'a trailing space', raw: '/admin%20/x', description: 'path segment ending in a dot or whitespace' },
  { name: 'a trailing tab', raw: '/admin%09/x', description: 'encoded control character in path' },
  { name: 'a double-encoded dot-dot', raw: '/%252e%252e/admin', description: "encoded '%' (%25) in path" },
  { name: 'a double-encoded slash', raw: '/a%252Fb', description: "encoded '%' (%25) in path" },
  {
    name: 'an overlong UTF-8 dot (C0 AE)',
    raw: '/%C0%AE%C0%AE/admin',
    description: 'percent-encoded bytes that are not valid UTF-8 in path',
  },
  {
    name: 'an overlong UTF-8 slash (E0 80 AF)',
    raw: '/a%E0%80%AFb',
    description: 'percent-encoded bytes that are not valid UTF-8 in path',
  },
  {
    name: 'a truncated UTF-8 sequence',
    raw: '/caf%C3',
    description: 'percent-encoded bytes that are not valid UTF-8 in path',
  },
  {
    name: 'a lone continuation byte',
    raw: '/a%80',
    description: 'percent-encoded bytes that are not valid UTF-8 in path',
  },
  {
    name: 'a fullwidth dot (NFKC: .)',
    raw: '/admin%EF%BC%8E/x',
    description: 'a character with a compatibility (NFKC) form in path, e.g. a fullwidth letter or dot',
  },
  {
    name: 'fullwidth dots as a traversal',
    raw: '/public/%EF%BC%8E%EF%BC%8E/admin',
    description: 'a character with a compatibility (NFKC) form in path, e.g. a fullwidth letter or dot',
  },
  {
    name: 'a fullwidth solidus (NFKC: /)',
    raw: '/admin%EF%BC%8Fx',
    description: 'a character with a compatibility (NFKC) form in path, e.g. a fullwidth letter or dot',
  },
  {
    name: 'a Kelvin sign (NFKC: K)',
    raw: '/%E2%84%AAey',
    description: 'a character with a compatibility (NFKC) form in path, e.g. a fullwidth letter or dot',
  },
  {
    name: 'a no-break space at a segment end (NFKC: space)',
    raw: '/admin%C2%A0/x',
    description: 'a character with a compatibility (NFKC) form in path, e.g. a fullwidth letter or dot',
  },
];

const refused: { name: string; raw: string; description: string }[] = [
  { name: 'an empty path', raw: '', description: "path must start with '/'" },
  { name: 'a relative path', raw: 'admin', description: "path must start with '/'" },
  { name: 'an absolute URL', raw: 'http://x/admin', description: "path must start with '/'" },
  { name: 'an encoded slash', raw: '/a%2Fb', description: 'encoded slash or backslash in path' },
  {
    name: 'an encoded slash in lower case',
    raw: '/a%2fb',
    description: 'encoded slash or backslash in path',
  },
  { name: 'an encoded backslash', raw: '/a%5Cb', description: 'encoded slash or backslash in path' },
  { name: 'a raw backslash', raw: '/a\\..\\admin', description: 'backslash in path' },
  { name: 'an encoded NUL', raw: '/a%00', description: 'encoded control character in path' },
  { name: 'an encoded newline', raw: '/a%0Ab', description: 'encoded control character in path' },
  { name: 'an encoded DEL', raw: '/a%7F', description: 'encoded control character in path' },
  { name: 'a raw NUL', raw: '/a\u0000', description: 'control or non-ASCII character in path' },
  { name: 'a raw tab', raw: '/a\tb', description: 'control or non-ASCII character in path' },
  { name: 'a raw non-ASCII character', raw: '/café', description: 'control or non-ASCII character in path' },
  { name: 'a truncated escape', raw: '/a%4', description: 'invalid percent-encoding in path' },
  { name: 'a lone percent', raw: '/100%', description: 'invalid percent-encoding in path' },
  { name: 'a non-hex escape', raw: '/a%zz', description: 'invalid percent-encoding in path' },
  {
    name: 'a servlet ..; traversal',
    raw: '/public/..;/admin',
    description: 'dot segment with a parameter in path',
  },
  {
    name: 'a ..;x traversal',
    raw: '/public/..;jsessionid=1/admin',
    description: 'dot segment with a parameter in path',
  },
  {
    name: 'an encoded ..%3B traversal',
    raw: '/public/..%3b/admin',
    description: 'dot segment with a parameter in path',
  },
  { name: 'a .; segment', raw: '/.;/admin', description: 'dot segment with a parameter in path' },
];

describe('normalisePath accepts', () => {
  it.each(accepted)('$name', ({ raw, path }) => {
    expect(normalisePath(raw)).toEqual({ ok: true, path });
  });

  it('returns an already normal path itself', () => {
    const raw = '/orders/7/items.json';
    const result = normalisePath(raw);
    expect(result.ok && result.path).toBe(raw);
  });
});

describe('normalisePath refuses', () => {
  it.each(refused)('$name', ({ raw, description }) => {
    expect(normalisePath(raw)).toEqual({ ok: false, description });
  });
});

describe('normalisePath refuses forms frameworks read differently (default: matrixParameters Reject)', () => {
  it.each(ambiguous)('$name: $raw', ({ raw, description }) => {
    expect(normalisePath(raw)).toEqual({ ok: false, description });
  });
});

describe('normalisePath with matrixParameters: Strip', () => {
  const strip = { matrixParameters: 'Strip' } as const;
  it.each([
    ['/admin;/x', '/admin/x'],
    ['/admin;x=1/y', '/admin/y'],
    ['/admin%3B/x', '/admin/x'],
    ['/a;jsessionid=1', '/a'],
    ['/a/;x/b', '/a/b'],
    ['/public;x/../admin', '/admin'],
  ])('%s is matched and forwarded as %s', (raw, path) => {
    expect(normalisePath(raw, strip)).toEqual({ ok: true, path });
  });

  it('still refuses a parameter on a dot segment', () => {
    expect(normalisePath('/public/..;/admin', strip)).toEqual({
      ok: false,
      description: 'dot segment with a parameter in path',
    });
  });

  it('still refuses a trailing dot left after stripping', () => {
    expect(normalisePath('/admin.;x/y', strip).ok).toBe(false);
  });
});

describe('hasNonAscii', () => {
  it.each([
    ['/caf%C3%A9', true],
    ['/a%3Fb', false],
    ['/plain', false],
  ])('%s: %s', (path, expected) => expect(hasNonAscii(path)).toBe(expected));
});

// Paths built from the characters that matter, so dot segments, escapes and slashes are common.
const pieces = fc.constantFrom(
  '/',
  '//',
  '.',
  '..',
  '/./',
  '/../',
  '%2e',
  '%2E',
  '%41',
  '%3b',
  '%25',
  'a',
  'b',
  ';',
  '~',
  '%',
);
const interesting = fc.array(pieces, { maxLength: 12 }).map((parts) => `/${parts.join('')}`);
const anyString = fc.string({ unit: 'binary', maxLength: 40 });

function normalised(raw: string): string | undefined {
  const r = normalisePath(raw);
  return r.ok ? r.path : undefined;
}

describe('normalisePath properties', () => {
  it('never throws, whatever the input', () => {
    fc.assert(
      fc.property(fc.oneof(anyString, interesting), (raw) => void normalisePath(raw)),
      { numRuns: 2000 },
    );
  });

  it('is idempotent', () => {
    fc.assert(
      fc.property(interesting, (raw) => {
        const once = normalised(raw);
        if (once !== undefined) expect(normalisePath(once)).toEqual({ ok: true, path: once });
      }),
      { numRuns: 2000 },
    );
  });

  it('leaves a leading slash, no empty or dot segment, no escaped unreserved character', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          interesting,
          anyString.map((s) => `/${s}`),
        ),
        (raw) => {
          const path = normalised(raw);
          if (path === undefined) return;
          expect(path.startsWith('/')).toBe(true);
          expect(path).not.toContain('//');
          expect(path).not.toMatch(/\/\.\.?(\/|$)/);
          for (const [, hex = ''] of path.matchAll(/%(..)/g)) {
            expect(hex).toBe(hex.toUpperCase());
            expect(String.fromCharCode(parseInt(hex, 16))).not.toMatch(/[A-Za-z0-9._~-]/);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('agrees with the WHATWG URL parser on dot segments where both accept', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('a', 'b', '.', '..', '%2e', '%2e%2e'), { maxLength: 8 }),
        (segs) => {
          const raw = `/${segs.join('/')}`;
          expect(normalised(raw)).toBe(new URL(raw, 'http://h').pathname);
        },
      ),
    );
  });
});
