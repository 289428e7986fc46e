/**
 * TokenPolicy manifests the CRD must refuse with 422, each with the field the API server's
 * message must name: one mutation of a good manifest per case (crds-refuses.test.ts runs them).
 */
import type { BadCase, Obj } from './crds-support.js';

const issuer0 = (spec: Obj): Obj => spec.issuers[0] as Obj;

export const badPolicies: BadCase[] = [
  // --- TokenPolicy: required fields and bounds
  {
    name: 'a policy without targetPort',
    kind: 'policy',
    mutate: (s) => delete s.targetPort,
    field: 'spec.targetPort',
  },
  {
    name: 'a targetPort above 65535',
    kind: 'policy',
    mutate: (s) => (s.targetPort = 65536),
    field: 'spec.targetPort',
  },
  { name: 'a targetPort of 0', kind: 'policy', mutate: (s) => (s.targetPort = 0), field: 'spec.targetPort' },
  {
    name: 'the sidecar proxy port as targetPort',
    kind: 'policy',
    mutate: (s) => (s.targetPort = 15080),
    field: 'spec.targetPort',
  },
  {
    name: 'the sidecar admin port as targetPort',
    kind: 'policy',
    mutate: (s) => (s.targetPort = 15090),
    field: 'spec.targetPort',
  },
  {
    name: 'a policy without selector',
    kind: 'policy',
    mutate: (s) => delete s.selector,
    field: 'spec.selector',
  },
  {
    name: 'an In selector expression without values',
    kind: 'policy',
    mutate: (s) => (s.selector.matchExpressions = [{ key: 'tier', operator: 'In' }]),
    field: 'spec.selector.matchExpressions[0].values',
  },
  { name: 'a mode outside the enum', kind: 'policy', mutate: (s) => (s.mode = 'Block'), field: 'spec.mode' },
  // --- issuers
  { name: 'an empty issuer list', kind: 'policy', mutate: (s) => (s.issuers = []), field: 'spec.issuers' },
  {
    name: 'more than 16 issuers',
    kind: 'policy',
    mutate: (s) =>
      (s.issuers = Array.from({ length: 17 }, (_, i) => ({
        issuer: `https://idp${i}.example.com/`,
        audiences: ['a'],
        discovery: true,
      }))),
    field: 'spec.issuers',
  },
  {
    name: 'two issuers with the same issuer',
    kind: 'policy',
    mutate: (s) => (s.issuers[1] = { ...issuer0(s) }),
    field: 'spec.issuers[1]',
  },
  {
    name: 'an issuer with two key sources',
    kind: 'policy',
    mutate: (s) => (issuer0(s).discovery = true),
    field: 'spec.issuers[0]',
  },
  {
    name: 'an issuer without a key source',
    kind: 'policy',
    mutate: (s) => delete issuer0(s).jwksUri,
    field: 'spec.issuers[0]',
  },
  {
    name: 'an issuer with discovery: false as its only key source',
    kind: 'policy',
    mutate: (s) => {
      delete issuer0(s).jwksUri;
      issuer0(s).discovery = false;
    },
    field: 'spec.issuers[0]',
  },
  {
    name: 'an issuer without audiences',
    kind: 'policy',
    mutate: (s) => delete issuer0(s).audiences,
    field: 'spec.issuers[0].audiences',
  },
  {
    name: 'an empty audience list',
    kind: 'policy',
    mutate: (s) => (issuer0(s).audiences = []),
    field: 'spec.issuers[0].audiences',
  },
  {
    name: 'a plain-http jwksUri to a remote host',
    kind: 'policy',
    mutate: (s) => (issuer0(s).jwksUri = 'http://auth.example.com/jwks.json'),
    field: 'spec.issuers[0].jwksUri',
  },
  {
    name: 'a plain-http jwksUri to a host that merely starts with 127.',
    kind: 'policy',
    mutate: (s) => (issuer0(s).jwksUri = 'http://127.0.0.1.nip.io/jwks.json'),
    field: 'spec.issuers[0].jwksUri',
  },
  {
    name: 'a jwksUri that is not a URL',
    kind: 'policy',
    mutate: (s) => (issuer0(s).jwksUri = 'auth.example.com/jwks.json'),
    field: 'spec.issuers[0].jwksUri',
  },
  {
    name: 'a jwksUri with another scheme',
    kind: 'policy',
    mutate: (s) => (issuer0(s).jwksUri = 'ftp://auth.example.com/jwks.json'),
    field: 'spec.issuers[0].jwksUri',
  },
  {
    name: 'discovery with an issuer that is not a URL',
    kind: 'policy',
    mutate: (s) => (s.issuers[1].issuer = 'login-service'),
    field: 'spec.issuers[1].issuer',
  },
  {
    name: 'an inline JWKS without keys',
    kind: 'policy',
    mutate: (s) => (s.issuers[2].jwks.keys = []),
    field: 'spec.issuers[2].jwks.keys',
  },
  {
    name: 'an inline JWK with the private member d',
    kind: 'policy',
    mutate: (s) => (s.issuers[2].jwks.keys[0].d = 'c2VjcmV0'),
    field: 'spec.issuers[2].jwks.keys[0].d',
  },
  {
    name: 'an inline RSA JWK with the private member qi',
    kind: 'policy',
    mutate: (s) => (s.issuers[2].jwks.keys[1].qi = 'c2VjcmV0'),
    field: 'spec.issuers[2].jwks.keys[1].qi',
  },
  {
    name: 'an inline symmetric (oct) JWK',
    kind: 'policy',
    mutate: (s) => (s.issuers[2].jwks.keys = [{ kty: 'oct', k: 'c2VjcmV0c2VjcmV0' }]),
    field: 'spec.issuers[2].jwks.keys[0].kty',
  },
  {
    name: 'an inline JWK carrying a symmetric k',
    kind: 'policy',
    mutate: (s) => (s.issuers[2].jwks.keys[0].k = 'c2VjcmV0'),
    field: 'spec.issuers[2].jwks.keys[0].k',
  },
  {
    name: 'an inline EC JWK without y',
    kind: 'policy',
    mutate: (s) => delete s.issuers[2].jwks.keys[0].y,
    field: 'spec.issuers[2].jwks.keys[0]',
  },
  {
    name: 'the HS256 algorithm',
    kind: 'policy',
    mutate: (s) => (issuer0(s).algorithms = ['RS256', 'HS256']),
    field: 'spec.issuers[0].algorithms[1]',
  },
  {
    name: 'the none algorithm',
    kind: 'policy',
    mutate: (s) => (issuer0(s).algorithms = ['none']),
    field: 'spec.issuers[0].algorithms[0]',
  },
  // --- expiry and reuse
  {
    name: 'a clock skew above 300 s',
    kind: 'policy',
    mutate: (s) => (s.expiry.clockSkewSeconds = 301),
    field: 'spec.expiry.clockSkewSeconds',
  },
  {
    name: 'a negative clock skew',
    kind: 'policy',
    mutate: (s) => (s.expiry.clockSkewSeconds = -1),
    field: 'spec.expiry.clockSkewSeconds',
  },
  {
    name: 'a zero maxTokenAgeSeconds',
    kind: 'policy',
    mutate: (s) => (s.expiry.maxTokenAgeSeconds = 0),
    field: 'spec.expiry.maxTokenAgeSeconds',
  },
  {
    name: 'a negative maxLifetimeSeconds',
    kind: 'policy',
    mutate: (s) => (s.expiry.maxLifetimeSeconds = -60),
    field: 'spec.expiry.maxLifetimeSeconds',
  },
  {
    name: 'a negative maxUses',
    kind: 'policy',
    mutate: (s) => (s.reuse.maxUses = -1),
    field: 'spec.reuse.maxUses',
  },
  // --- rules
  {
    name: 'a rule path without a leading slash',
    kind: 'policy',
    mutate: (s) => (s.rules[0].paths = ['healthz']),
    field: 'spec.rules[0].paths[0]',
  },
  {
    name: 'a rule path with * in the middle',
    kind: 'policy',
    mutate: (s) => (s.rules[1].paths = ['/admin/*/users']),
    field: 'spec.rules[1].paths[0]',
  },
  {
    name: 'a rule path with * not after a slash',
    kind: 'policy',
    mutate: (s) => (s.rules[1].paths = ['/admin', '/admin*']),
    field: 'spec.rules[1].paths[1]',
  },
  {
    name: 'a lower-case method',
    kind: 'policy',
    mutate: (s) => (s.rules[0].methods = ['get']),
    field: 'spec.rules[0].methods[0]',
  },
  {
    name: 'a method outside the Gateway API set (ANY)',
    kind: 'policy',
    mutate: (s) => (s.rules[0].methods = ['GET', 'ANY']),
    field: 'spec.rules[0].methods[1]',
  },
  {
    name: 'an expectedTypes entry that is not a media type',
    kind: 'policy',
    mutate: (s) => (issuer0(s).expectedTypes = ['at jwt']),
    field: 'spec.issuers[0].expectedTypes[0]',
  },
  // --- request-handling options (ADR 0007)
  {
    name: 'a trusted proxy that is not a CIDR',
    kind: 'policy',
    mutate: (s) => (s.trustedProxies = ['proxy.example.com']),
    field: 'spec.trustedProxies[0]',
  },
  {
    name: 'a trusted proxy CIDR with host bits set',
    kind: 'policy',
    mutate: (s) => (s.trustedProxies = ['10.0.0.0/8', '10.1.2.3/8']),
    field: 'spec.trustedProxies[1]',
  },
  {
    name: 'matrixParameters outside its enum',
    kind: 'policy',
    mutate: (s) => (s.paths.matrixParameters = 'Allow'),
    field: 'spec.paths.matrixParameters',
  },
  {
    name: 'forwardToken as a string',
    kind: 'policy',
    mutate: (s) => (s.forwardToken = 'yes'),
    field: 'spec.forwardToken',
  },
  {
    name: 'an action outside the enum',
    kind: 'policy',
    mutate: (s) => (s.rules[0].action = 'Permit'),
    field: 'spec.rules[0].action',
  },
  {
    name: 'requiredScopes on an Allow rule',
    kind: 'policy',
    mutate: (s) => (s.rules[0].requiredScopes = ['read']),
    field: 'spec.rules[0].requiredScopes',
  },
  {
    name: 'requiredClaims on a Deny rule',
    kind: 'policy',
    mutate: (s) => (s.rules[2].requiredClaims = { role: 'admin' }),
    field: 'spec.rules[2].requiredClaims',
  },
  {
    name: 'two rules with the same name',
    kind: 'policy',
    mutate: (s) => (s.rules[1].name = 'health'),
    field: 'spec.rules[1]',
  },
  // --- forwardClaims
  {
    name: 'forwarding into Authorization',
    kind: 'policy',
    mutate: (s) => (s.forwardClaims[0].header = 'Authorization'),
    field: 'spec.forwardClaims[0].header',
  },
  {
    name: 'forwarding into transfer-encoding (any case)',
    kind: 'policy',
    mutate: (s) => (s.forwardClaims[0].header = 'transfer-Encoding'),
    field: 'spec.forwardClaims[0].header',
  },
  {
    name: 'forwarding into a hop-by-hop header',
    kind: 'policy',
    mutate: (s) => (s.forwardClaims[1].header = 'Keep-Alive'),
    field: 'spec.forwardClaims[1].header',
  },
  {
    name: 'a forwarded header name that is not an HTTP token',
    kind: 'policy',
    mutate: (s) => (s.forwardClaims[0].header = 'X-Auth Subject'),
    field: 'spec.forwardClaims[0].header',
  },
  {
    name: 'two forwarded headers differing only in case',
    kind: 'policy',
    mutate: (s) => (s.forwardClaims[1].header = 'x-auth-subject'),
    field: 'spec.forwardClaims',
  },
];
