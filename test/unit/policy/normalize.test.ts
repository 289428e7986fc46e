import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalisePath } from '../../../src/policy/normalize.js';

const accepted: { name: string; raw: string; path: string }[] = [
  { name: 'a normal path as it is', raw: '/orders/7', path: '/orders/7' },
  { name: 'the root', raw: '/', path: '/' },
  { name: 'a file name with a dot', raw: '/static/app.js', path: '/static/app.js' },
  { name: 'a trailing slash kept', raw: '/a/', path: '/a/' },
  { name: 'a decoded unreserved letter', raw: '/%61dmin', path: '/admin' },
  { name: 'decoded unreserved marks', raw: '/%2D%2e%5F%7e%41%7A%30', path: '/-._~Az0' },
  { name: 'an escaped reserved character kept, hex upper-cased', raw: '/a%3bb%3F', path: '/a%3Bb%3F' },
  {
    name: 'an escaped percent kept (no double decoding)',
    raw: '/%252e%252e/admin',
    path: '/%252e%252e/admin',
  },
  { name: 'escaped UTF-8 kept', raw: '/caf%c3%a9', path: '/caf%C3%A9' },
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
  { name: 'three dots as a name', raw: '/a/.../b', path: '/a/.../b' },
  { name: 'a hidden name', raw: '/.well-known/jwks.json', path: '/.well-known/jwks.json' },
  { name: 'a semicolon in a normal segment', raw: '/a;v=1/b', path: '/a;v=1/b' },
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
