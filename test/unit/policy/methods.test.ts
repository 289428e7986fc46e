/**
 * Rule methods: any RFC 9110 method token may be named (extension methods included), in upper
 * case; a method-limited rule covers exactly what it names, and HEAD with GET.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compilePolicy } from '../../../src/policy/compile.js';
import { coversMethod, matchRule } from '../../../src/policy/rules.js';
import { METHOD_NAME, methodProblem } from '../../../src/policy/validate-rules.js';
import { validatePolicy } from '../../../src/policy/validate.js';
import { validPolicy } from '../../support/manifests.js';

const TCHAR = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const upperTchars = [...TCHAR].filter((c) => !/[a-z]/.test(c));
const method = fc
  .array(fc.constantFrom(...upperTchars), { minLength: 1, maxLength: 32 })
  .map((a) => a.join(''))
  .filter((m) => !['ANY', 'ALL', '*'].includes(m));

describe('methodProblem', () => {
  it('accepts every upper-case RFC 9110 token up to 32 characters', () => {
    fc.assert(
      fc.property(method, (m) => {
        expect(methodProblem(m)).toBeUndefined();
      }),
    );
  });

  it('refuses every name with a lower-case letter, saying the upper-case spelling', () => {
    fc.assert(
      fc.property(method, fc.nat(), fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz'), (m, at, c) => {
        const i = at % (m.length + 1);
        const name = m.slice(0, i) + c + m.slice(i);
        fc.pre(name.length <= 32 && !['ANY', 'ALL'].includes(name.toUpperCase()));
        expect(methodProblem(name)).toContain(`must be upper-case: "${name.toUpperCase()}"`);
      }),
    );
  });

  it('refuses every name with a character outside the token syntax', () => {
    const bad = fc.constantFrom(
      ' ',
      '\t',
      '"',
      '(',
      ')',
      ',',
      '/',
      ':',
      ';',
      '<',
      '=',
      '>',
      '?',
      '@',
      '[',
      '\\',
      ']',
      '{',
      '}',
      'é',
    );
    fc.assert(
      fc.property(method, fc.nat(), bad, (m, at, c) => {
        const i = at % (m.length + 1);
        const name = (m.slice(0, i) + c + m.slice(i)).slice(0, 32);
        fc.pre(name.includes(c));
        expect(methodProblem(name)).toContain('must be an HTTP method name');
        expect(METHOD_NAME.test(name)).toBe(false);
      }),
    );
  });

  it.each(['ANY', 'any', '*', 'ALL'])('%s is no method: the message says to omit methods', (m) => {
    expect(methodProblem(m)).toContain('leave methods out to match every method');
  });
});

describe('a method-limited rule', () => {
  const compiled = (methods: string[]) => {
    const p = validPolicy();
    p.spec.rules = [{ name: 'limited', paths: ['/dav/*'], methods, action: 'Deny' }];
    const v = validatePolicy(p, { standalone: false });
    if (!v.ok) throw new Error(JSON.stringify(v.errors));
    return compilePolicy(v.value).rules;
  };

  it('covers every method it names and HEAD with GET, and no other', () => {
    fc.assert(
      fc.property(fc.uniqueArray(method, { minLength: 1, maxLength: 5 }), method, (named, asked) => {
        const rules = compiled(named);
        const covered = named.includes(asked) || (asked === 'HEAD' && named.includes('GET'));
        expect(matchRule(rules, '/dav/x', asked)?.name).toBe(covered ? 'limited' : undefined);
      }),
      { numRuns: 200 },
    );
  });

  it('a Deny on GET covers HEAD; one on HEAD does not cover GET', () => {
    expect(coversMethod(new Set(['GET']), 'HEAD')).toBe(true);
    expect(coversMethod(new Set(['HEAD']), 'GET')).toBe(false);
    expect(matchRule(compiled(['PROPFIND']), '/dav/x', 'PROPFIND')?.name).toBe('limited');
    expect(matchRule(compiled(['PROPFIND']), '/dav/x', 'propfind')).toBeUndefined();
  });
});
