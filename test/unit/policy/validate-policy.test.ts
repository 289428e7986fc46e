import { describe, expect, it } from 'vitest';
import { formatFieldErrors, validatePolicy } from '../../../src/policy/validate.js';
import { EC_PUBLIC_JWK, type Loose, validPolicy } from '../../support/manifests.js';
import { type BadCase, issuer, itRejects, rule } from './policy-cases.js';

/** Envelope, metadata and the top-level spec fields; issuers and rules have their own files. */
const bad: BadCase[] = [
  {
    name: 'a wrong apiVersion',
    mutate: (p) => (p.apiVersion = 'v1'),
    fields: ['apiVersion'],
    message: 'must be tokenwarden.dev/v1alpha1',
  },
  { name: 'a wrong kind', mutate: (p) => (p.kind = 'TokenRevocation'), fields: ['kind'] },
  { name: 'no metadata', mutate: (p) => delete p.metadata, fields: ['metadata'], message: 'is required' },
  { name: 'no name', mutate: (p) => delete p.metadata.name, fields: ['metadata.name'] },
  {
    name: 'an upper-case name',
    mutate: (p) => (p.metadata.name = 'Orders'),
    fields: ['metadata.name'],
    message: 'DNS-1123 subdomain',
  },
  {
    name: 'a name over 253 characters',
    mutate: (p) => (p.metadata.name = 'a'.repeat(254)),
    fields: ['metadata.name'],
  },
  {
    name: 'a namespace with an underscore',
    mutate: (p) => (p.metadata.namespace = 'my_ns'),
    fields: ['metadata.namespace'],
  },
  {
    name: 'an unknown top-level field',
    mutate: (p) => (p.specs = {}),
    fields: ['specs'],
    message: 'unknown field',
  },
  { name: 'no spec', mutate: (p) => delete p.spec, fields: ['spec'] },
  {
    name: 'a spec that is a list',
    mutate: (p) => (p.spec = []),
    fields: ['spec'],
    message: 'must be a mapping, got a list',
  },
  {
    name: 'an unknown spec field',
    mutate: (p) => (p.spec.rule = []),
    fields: ['spec.rule'],
    message: 'unknown field',
  },
  {
    name: 'no selector in the cluster',
    mutate: (p) => delete p.spec.selector,
    fields: ['spec.selector'],
    message: 'is required',
  },
  {
    name: 'a selector with an unknown operator',
    mutate: (p) =>
      (p.spec.selector = { matchExpressions: [{ key: 'app', operator: 'Equals', values: ['a'] }] }),
    fields: ['spec.selector.matchExpressions[0].operator'],
  },
  {
    name: 'an In selector without values',
    mutate: (p) => (p.spec.selector = { matchExpressions: [{ key: 'app', operator: 'In' }] }),
    fields: ['spec.selector.matchExpressions[0].values'],
  },
  {
    name: 'a label value that is a number',
    mutate: (p) => (p.spec.selector.matchLabels.tier = 1),
    fields: ['spec.selector.matchLabels.tier'],
    message: 'quote it in YAML',
  },
  {
    name: 'no targetPort in the cluster',
    mutate: (p) => delete p.spec.targetPort,
    fields: ['spec.targetPort'],
  },
  {
    name: 'targetPort 0',
    mutate: (p) => (p.spec.targetPort = 0),
    fields: ['spec.targetPort'],
    message: '1 to 65535',
  },
  { name: 'targetPort 65536', mutate: (p) => (p.spec.targetPort = 65536), fields: ['spec.targetPort'] },
  {
    name: 'targetPort 15080, the sidecar proxy port',
    mutate: (p) => (p.spec.targetPort = 15080),
    fields: ['spec.targetPort'],
    message: '15080 or 15090',
  },
  {
    name: 'targetPort 15090, the sidecar admin port',
    mutate: (p) => (p.spec.targetPort = 15090),
    fields: ['spec.targetPort'],
  },
  {
    name: 'targetPort as a string',
    mutate: (p) => (p.spec.targetPort = '8080'),
    fields: ['spec.targetPort'],
  },
  {
    name: 'a bad targetPort even standalone',
    mutate: (p) => (p.spec.targetPort = 1.5),
    fields: ['spec.targetPort'],
    standalone: true,
  },
  {
    name: 'a lower-case mode',
    mutate: (p) => (p.spec.mode = 'enforce'),
    fields: ['spec.mode'],
    message: 'Enforce, Audit',
  },
  {
    name: 'a clock skew over 300',
    mutate: (p) => (p.spec.expiry.clockSkewSeconds = 301),
    fields: ['spec.expiry.clockSkewSeconds'],
  },
  {
    name: 'a negative clock skew',
    mutate: (p) => (p.spec.expiry.clockSkewSeconds = -1),
    fields: ['spec.expiry.clockSkewSeconds'],
  },
  {
    name: 'a zero max token age',
    mutate: (p) => (p.spec.expiry.maxTokenAgeSeconds = 0),
    fields: ['spec.expiry.maxTokenAgeSeconds'],
  },
  {
    name: 'a fractional max lifetime',
    mutate: (p) => (p.spec.expiry.maxLifetimeSeconds = 0.5),
    fields: ['spec.expiry.maxLifetimeSeconds'],
  },
  {
    name: 'requireExp as a string',
    mutate: (p) => (p.spec.expiry.requireExp = 'yes'),
    fields: ['spec.expiry.requireExp'],
  },
  { name: 'a negative maxUses', mutate: (p) => (p.spec.reuse.maxUses = -1), fields: ['spec.reuse.maxUses'] },
];

const good: { name: string; mutate: (p: Loose) => void; standalone?: boolean }[] = [
  { name: 'the README example', mutate: () => {} },
  {
    name: 'a standalone policy without selector and targetPort',
    mutate: (p) => {
      delete p.spec.selector;
      delete p.spec.targetPort;
    },
    standalone: true,
  },
  { name: 'http to localhost', mutate: (p) => (issuer(p).jwksUri = 'http://localhost:8080/jwks') },
  { name: 'http to 127.0.0.2', mutate: (p) => (issuer(p).jwksUri = 'http://127.0.0.2/jwks') },
  { name: 'http to [::1]', mutate: (p) => (issuer(p).jwksUri = 'http://[::1]:9000/jwks') },
  {
    name: 'an inline public key',
    mutate: (p) => {
      delete issuer(p).jwksUri;
      issuer(p).jwks = { keys: [EC_PUBLIC_JWK] };
    },
  },
  {
    name: 'YAML nulls as absent fields',
    mutate: (p) => void Object.assign(p.spec, { mode: null, reuse: null }),
  },
  { name: 'the root prefix', mutate: (p) => (rule(p).paths = ['/*', '/']) },
  {
    name: 'every Gateway API method',
    mutate: (p) =>
      (rule(p).methods = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']),
  },
  {
    name: 'extension methods (WebDAV, QUERY, M-SEARCH)',
    mutate: (p) => (rule(p).methods = ['PROPFIND', 'SEARCH', 'QUERY', 'M-SEARCH', 'MKCOL']),
  },
  { name: 'expectedTypes', mutate: (p) => (issuer(p).expectedTypes = ['at+jwt', 'application/jwt']) },
  {
    name: 'every request-handling option',
    mutate: (p) =>
      void Object.assign(p.spec, {
        forwardToken: true,
        trustedProxies: ['10.0.0.0/8', '192.168.1.7', 'fd00::/8', '::1/128'],
        paths: { caseInsensitive: true, matrixParameters: 'Strip' },
        http: { allowUnderscoreHeaders: true },
      }),
  },
  // Was '/a%3Bb': an escaped ';' is a matrix parameter (ADR 0007), refused in requests.
  { name: 'an escaped reserved character in a path', mutate: (p) => (rule(p).paths = ['/a%3Fb']) },
];

describe('validatePolicy rejects', () => itRejects(bad));

describe('validatePolicy accepts', () => {
  it.each(good)('$name', ({ mutate, standalone }) => {
    const p = validPolicy();
    mutate(p);
    const result = validatePolicy(p, { standalone: standalone ?? false });
    expect(result.ok ? [] : result.errors).toEqual([]);
  });
});

describe('validatePolicy', () => {
  it('reports every error, not only the first', () => {
    const p = validPolicy();
    p.metadata.name = 'Bad';
    p.spec.mode = 'Off';
    issuer(p).jwksUri = 'http://example.com/';
    rule(p).paths = ['x'];
    p.spec.forwardClaims[0].header = 'Host';
    const result = validatePolicy(p, { standalone: false });
    expect(result.ok ? [] : result.errors.map((e) => e.field)).toEqual([
      'metadata.name',
      'spec.mode',
      'spec.issuers[0].jwksUri',
      'spec.rules[0].paths[0]',
      'spec.forwardClaims[0].header',
    ]);
  });

  it('refuses what is not a mapping at all', () => {
    const result = validatePolicy('kind: TokenPolicy', { standalone: true });
    expect(result).toEqual({
      ok: false,
      errors: [{ field: '', message: 'must be a mapping, got a string' }],
    });
  });

  it('gives a rule without an action the CRD default, Authenticate', () => {
    const result = validatePolicy(validPolicy(), { standalone: false });
    expect(result.ok && result.value.spec.rules?.map((r) => r.action)).toEqual(['Allow', 'Authenticate']);
  });

  it('returns a copy without YAML nulls, leaving the input alone', () => {
    const p = validPolicy();
    p.spec.mode = null;
    const result = validatePolicy(p, { standalone: false });
    expect(result.ok && 'mode' in result.value.spec).toBe(false);
    expect(p.spec.mode).toBeNull();
    expect(p.spec.rules[1].action).toBeUndefined();
  });

  it('formats errors one per line, naming the field', () => {
    const p = validPolicy();
    issuer(p).jwksUri = 'http://auth.example.com/jwks';
    p.spec.targetPort = 0;
    const result = validatePolicy(p, { standalone: false });
    expect(result.ok ? '' : formatFieldErrors(result.errors)).toBe(
      'spec.targetPort: must be a port number from 1 to 65535, got 0\n' +
        'spec.issuers[0].jwksUri: must be an https URL, or http to a loopback host',
    );
  });
});
