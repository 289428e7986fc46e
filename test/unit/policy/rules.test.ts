import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { matchRule, matchesPrefix } from '../../../src/policy/rules.js';
import type { CompiledRule, RuleAction } from '../../../src/policy/types.js';

/** A compiled rule the way compile.ts builds one, from patterns as a policy writes them. */
function rule(
  name: string,
  paths: string[],
  methods?: string[],
  action: RuleAction = 'Authenticate',
): CompiledRule {
  return {
    name,
    exact: new Set(paths.filter((p) => !p.endsWith('/*'))),
    prefixes: paths.filter((p) => p.endsWith('/*')).map((p) => p.slice(0, -1)),
    methods: methods === undefined ? undefined : new Set(methods),
    action,
    requiredScopes: [],
    requiredClaims: [],
  };
}

/** The rule semantics written plainly, for comparison. */
function reference(
  rules: { name: string; paths: string[]; methods?: string[] }[],
  path: string,
  method: string,
) {
  return rules.find(
    (r) =>
      (r.methods === undefined ||
        r.methods.includes(method) ||
        (method === 'HEAD' && r.methods.includes('GET'))) &&
      r.paths.some((p) => {
        if (!p.endsWith('/*')) return p === path;
        const base = p.slice(0, -2); // '/x' for '/x/*', '' for '/*'
        return path === base || path.startsWith(`${base}/`);
      }),
  )?.name;
}

const RULES = [
  rule('health', ['/healthz', '/readyz'], ['GET'], 'Allow'),
  rule('admin', ['/admin/*']),
  rule('deny-writes', ['/*'], ['POST', 'DELETE'], 'Deny'),
  rule('root', ['/']),
];

describe('matchRule', () => {
  it.each([
    { name: 'an exact path', path: '/healthz', method: 'GET', want: 'health' },
    { name: 'the second exact path of a rule', path: '/readyz', method: 'GET', want: 'health' },
    { name: 'not an exact path with a trailing slash', path: '/healthz/', method: 'GET', want: undefined },
    { name: 'not an exact path for another method', path: '/healthz', method: 'PUT', want: undefined },
    { name: 'HEAD under a rule naming GET (HEAD is GET)', path: '/healthz', method: 'HEAD', want: 'health' },
    { name: 'not an unnamed extension method', path: '/healthz', method: 'PROPFIND', want: undefined },
    { name: 'a path under a prefix', path: '/admin/users/1', method: 'GET', want: 'admin' },
    { name: 'the prefix directory itself', path: '/admin/', method: 'GET', want: 'admin' },
    { name: 'the prefix without its slash', path: '/admin', method: 'GET', want: 'admin' },
    {
      name: 'not a sibling sharing the prefix letters',
      path: '/administrator',
      method: 'GET',
      want: undefined,
    },
    { name: '/* for any path with the method', path: '/orders/7', method: 'POST', want: 'deny-writes' },
    { name: 'first match wins over a later rule', path: '/admin/x', method: 'POST', want: 'admin' },
    { name: 'the exact root', path: '/', method: 'GET', want: 'root' },
    { name: '/* matching the root too', path: '/', method: 'DELETE', want: 'deny-writes' },
    { name: 'no rule', path: '/orders', method: 'GET', want: undefined },
  ])('$name', ({ path, method, want }) => {
    expect(matchRule(RULES, path, method)?.name).toBe(want);
  });

  it('matches nothing without rules', () => expect(matchRule([], '/', 'GET')).toBeUndefined());
});

describe('matchesPrefix', () => {
  it.each([
    { prefix: '/x/', path: '/x', want: true },
    { prefix: '/x/', path: '/x/', want: true },
    { prefix: '/x/', path: '/x/y/z', want: true },
    { prefix: '/x/', path: '/xy', want: false },
    { prefix: '/x/', path: '/', want: false },
    { prefix: '/', path: '/', want: true },
    { prefix: '/', path: '/anything', want: true },
  ])('$prefix against $path is $want', ({ prefix, path, want }) => {
    expect(matchesPrefix(prefix, path)).toBe(want);
  });
});

// Few, short segment names so generated paths and patterns collide often.
const segment = fc.constantFrom('a', 'b', 'ab', 'x', 'admin');
const pathArb = fc
  .tuple(fc.array(segment, { maxLength: 4 }), fc.boolean())
  .map(([segs, slash]) => (segs.length === 0 ? '/' : `/${segs.join('/')}${slash ? '/' : ''}`));
const patternArb = fc.oneof(
  pathArb,
  fc.array(segment, { maxLength: 3 }).map((segs) => (segs.length === 0 ? '/*' : `/${segs.join('/')}/*`)),
);
const methodArb = fc.constantFrom('GET', 'POST', 'PUT');
const ruleSpecArb = fc.record(
  {
    paths: fc.array(patternArb, { minLength: 1, maxLength: 3 }),
    methods: fc.array(methodArb, { minLength: 1, maxLength: 2 }),
  },
  { requiredKeys: ['paths'] },
);

describe('matchRule properties', () => {
  it('a path under a /p/* prefix always matches it', () => {
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 3 }), pathArb, methodArb, (base, rest, method) => {
        const prefix = base.length === 0 ? '' : `/${base.join('/')}`;
        const r = rule('p', [`${prefix}/*`]);
        expect(matchRule([r], `${prefix}${rest}`, method)).toBe(r);
        if (prefix !== '') expect(matchRule([r], prefix, method)).toBe(r);
      }),
    );
  });

  it('an exact rule matches its path and no other', () => {
    fc.assert(
      fc.property(pathArb, pathArb, methodArb, (own, other, method) => {
        const r = rule('e', [own]);
        expect(matchRule([r], own, method)).toBe(r);
        expect(matchRule([r], other, method)).toBe(other === own ? r : undefined);
      }),
    );
  });

  it('the first match wins, as in a plain reference implementation', () => {
    fc.assert(
      fc.property(fc.array(ruleSpecArb, { maxLength: 5 }), pathArb, methodArb, (specs, path, method) => {
        const named = specs.map((s, i) => ({ ...s, name: `r${i}` }));
        const compiled = named.map((s) => rule(s.name, s.paths, s.methods));
        expect(matchRule(compiled, path, method)?.name).toBe(reference(named, path, method));
      }),
      { numRuns: 500 },
    );
  });
});
