import { describe, expect, it } from 'vitest';
import { canonicalJson, compilePolicy } from '../../../src/policy/compile.js';
import { parsePolicyDocuments } from '../../../src/policy/load.js';
import type { TokenPolicy } from '../../../src/policy/types.js';
import { validatePolicy } from '../../../src/policy/validate.js';
import { EC_PUBLIC_JWK, type Loose, fixture, validPolicy } from '../../support/manifests.js';

function valid(p: Loose, standalone = false): TokenPolicy {
  const result = validatePolicy(p, { standalone });
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.value;
}

function minimal(): Loose {
  return {
    apiVersion: 'tokenwarden.dev/v1alpha1',
    kind: 'TokenPolicy',
    metadata: { name: 'm' },
    spec: { issuers: [{ issuer: 'https://i/', audiences: ['a'], discovery: true }] },
  };
}

describe('compilePolicy', () => {
  it('fills every default of a minimal policy', () => {
    const c = compilePolicy(valid(minimal(), true));
    expect(c).toMatchObject({
      name: 'm',
      namespace: 'default',
      generation: 0,
      mode: 'Enforce',
      targetPort: undefined,
      expiry: {
        requireExp: true,
        clockSkewSeconds: 30,
        maxTokenAgeSeconds: undefined,
        maxLifetimeSeconds: undefined,
      },
      maxUses: 0,
      rules: [],
      forwardClaims: [],
      forwardToken: false,
      trustedProxies: undefined,
      paths: { caseInsensitive: false, matrixParameters: 'Reject' },
      allowUnderscoreHeaders: false,
    });
    const issuer = c.issuers.get('https://i/');
    expect(issuer?.expectedTypes).toBeUndefined();
    expect([...(issuer?.algorithms ?? [])]).toEqual(['RS256', 'ES256']);
    expect(issuer?.keySource).toEqual({ kind: 'discovery', issuer: 'https://i/' });
  });

  it('keeps explicit values', () => {
    const p = validPolicy();
    Object.assign(p.metadata, { generation: 4 });
    Object.assign(p.spec, { mode: 'Audit', reuse: { maxUses: 3 } });
    p.spec.expiry = {
      requireExp: false,
      clockSkewSeconds: 0,
      maxTokenAgeSeconds: 60,
      maxLifetimeSeconds: 120,
    };
    p.spec.issuers[0].algorithms = ['EdDSA'];
    const c = compilePolicy(valid(p));
    expect(c).toMatchObject({
      namespace: 'shop',
      generation: 4,
      mode: 'Audit',
      targetPort: 8080,
      maxUses: 3,
    });
    expect(c.expiry).toEqual({
      requireExp: false,
      clockSkewSeconds: 0,
      maxTokenAgeSeconds: 60,
      maxLifetimeSeconds: 120,
    });
    expect([...(c.issuers.get('https://auth.example.com/')?.algorithms ?? [])]).toEqual(['EdDSA']);
  });

  it('compiles each key source', () => {
    const p = validPolicy();
    p.spec.issuers.push({ issuer: 'urn:ci', audiences: ['x', 'y'], jwks: { keys: [EC_PUBLIC_JWK] } });
    const c = compilePolicy(valid(p));
    expect(c.issuers.get('https://auth.example.com/')?.keySource).toEqual({
      kind: 'jwksUri',
      uri: 'https://auth.example.com/.well-known/jwks.json',
    });
    expect(c.issuers.get('urn:ci')?.keySource).toEqual({ kind: 'inline', keys: [EC_PUBLIC_JWK] });
    expect([...(c.issuers.get('urn:ci')?.audiences ?? [])]).toEqual(['x', 'y']);
  });

  it('splits rule paths into exact paths and prefixes', () => {
    const p = validPolicy();
    p.spec.rules[1].paths = ['/admin/*', '/ops', '/*'];
    const [health, admin] = compilePolicy(valid(p)).rules;
    expect([...(health?.exact ?? [])]).toEqual(['/healthz', '/readyz']);
    expect([...(health?.methods ?? [])]).toEqual(['GET']);
    expect(admin).toMatchObject({
      name: 'admin',
      prefixes: ['/admin/', '/'],
      methods: undefined,
      action: 'Authenticate',
      requiredScopes: ['orders:admin'],
      requiredClaims: [['role', 'admin']],
    });
    expect([...(admin?.exact ?? [])]).toEqual(['/ops']);
  });

  it('lower-cases forwarded header names', () => {
    expect(compilePolicy(valid(validPolicy())).forwardClaims).toEqual([
      { claim: 'sub', header: 'x-auth-subject' },
    ]);
  });

  it('defaults the action of a rule built in code', () => {
    const p = valid(validPolicy());
    delete (p.spec.rules?.[1] as Loose).action;
    expect(compilePolicy(p).rules[1]?.action).toBe('Authenticate');
  });

  it('throws on an issuer without a key source: a programmer error', () => {
    const p = valid(validPolicy());
    delete p.spec.issuers[0]?.jwksUri;
    expect(() => compilePolicy(p)).toThrow(/no key source/);
  });

  it('freezes what it returns', () => {
    const c = compilePolicy(valid(validPolicy()));
    expect(Object.isFrozen(c) && Object.isFrozen(c.rules) && Object.isFrozen(c.rules[0])).toBe(true);
  });
});

describe('compilePolicy, request-handling options', () => {
  it('keeps explicit values and compiles trusted proxies into a lookup', () => {
    const p = minimal();
    Object.assign(p.spec, {
      forwardToken: true,
      trustedProxies: ['10.0.0.0/8'],
      paths: { caseInsensitive: true, matrixParameters: 'Strip' },
      http: { allowUnderscoreHeaders: true },
    });
    p.spec.issuers[0].expectedTypes = ['Application/AT+JWT', 'jwt'];
    const c = compilePolicy(valid(p, true));
    expect(c.forwardToken).toBe(true);
    expect(c.paths).toEqual({ caseInsensitive: true, matrixParameters: 'Strip' });
    expect(c.allowUnderscoreHeaders).toBe(true);
    expect(c.trustedProxies?.has('10.9.8.7')).toBe(true);
    expect(c.trustedProxies?.has('11.0.0.1')).toBe(false);
    expect([...(c.issuers.get('https://i/')?.expectedTypes ?? [])]).toEqual(['at+jwt', 'jwt']);
  });

  it('lower-cases rule paths when matching is case-insensitive', () => {
    const p = minimal();
    p.spec.paths = { caseInsensitive: true };
    p.spec.rules = [{ name: 'admin', paths: ['/Admin/*', '/Exact'], action: 'Deny' }];
    const rule = compilePolicy(valid(p, true)).rules[0];
    expect(rule?.prefixes).toEqual(['/admin/']);
    expect([...(rule?.exact ?? [])]).toEqual(['/exact']);
  });
});

describe('specHash', () => {
  const hash = (p: Loose) => compilePolicy(valid(p)).specHash;

  it('is the same for the same policy written in another key order or with a status', () => {
    const a = validPolicy();
    const b = validPolicy();
    b.spec = Object.fromEntries(Object.entries(b.spec).reverse());
    b.status = { matchedPods: 3 };
    expect(hash(a)).toMatch(/^[0-9a-f]{64}$/);
    expect(hash(b)).toBe(hash(a));
  });

  it('is the same for the file and the object it holds', () => {
    const parsed = parsePolicyDocuments(fixture('full.yaml'), { standalone: false });
    expect(parsed.ok && compilePolicy(parsed.value.policy).specHash).toBe(hash(validPolicy()));
  });

  it.each([
    { name: 'a spec change', mutate: (p: Loose) => (p.spec.reuse.maxUses = 1) },
    { name: 'a rule order change', mutate: (p: Loose) => void p.spec.rules.reverse() },
    { name: 'a rename', mutate: (p: Loose) => (p.metadata.name = 'other') },
    { name: 'a move to another namespace', mutate: (p: Loose) => (p.metadata.namespace = 'other') },
  ])('changes with $name', ({ mutate }) => {
    const p = validPolicy();
    mutate(p);
    expect(hash(p)).not.toBe(hash(validPolicy()));
  });
});

describe('canonicalJson', () => {
  it.each([
    {
      name: 'sorts keys at every level',
      value: { b: 1, a: { d: [2, { f: 1, e: 0 }], c: null } },
      text: '{"a":{"c":null,"d":[2,{"e":0,"f":1}]},"b":1}',
    },
    { name: 'drops undefined members', value: { a: undefined, b: 'x' }, text: '{"b":"x"}' },
    { name: 'escapes strings as JSON does', value: ['"\n'], text: '["\\"\\n"]' },
  ])('$name', ({ value, text }) => {
    expect(canonicalJson(value)).toBe(text);
  });
});
