/**
 * Manifest builders for the policy tests: a valid object per kind (the README example), a
 * fresh deep copy each call so a case can break one field and leave the others valid.
 */
import { readFileSync } from 'node:fs';

export const FIXTURES = new URL('../fixtures/policies/', import.meta.url);

export function fixture(name: string): string {
  return readFileSync(new URL(name, FIXTURES), 'utf8');
}

// Test manifests are loose, mutable JSON-like data: cases poke at any field.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Loose = any;

export function validPolicy(): Loose {
  return {
    apiVersion: 'tokenwarden.dev/v1alpha1',
    kind: 'TokenPolicy',
    metadata: { name: 'orders-api', namespace: 'shop' },
    spec: {
      selector: { matchLabels: { app: 'orders' } },
      targetPort: 8080,
      mode: 'Enforce',
      issuers: [
        {
          issuer: 'https://auth.example.com/',
          audiences: ['orders-api'],
          jwksUri: 'https://auth.example.com/.well-known/jwks.json',
          algorithms: ['RS256', 'ES256'],
        },
      ],
      expiry: { requireExp: true, clockSkewSeconds: 30, maxTokenAgeSeconds: 3600, maxLifetimeSeconds: 86400 },
      reuse: { maxUses: 0 },
      rules: [
        { name: 'health', paths: ['/healthz', '/readyz'], methods: ['GET'], action: 'Allow' },
        {
          name: 'admin',
          paths: ['/admin/*'],
          requiredScopes: ['orders:admin'],
          requiredClaims: { role: 'admin' },
        },
      ],
      forwardClaims: [{ claim: 'sub', header: 'X-Auth-Subject' }],
    },
  };
}

export function validRevocation(): Loose {
  return {
    apiVersion: 'tokenwarden.dev/v1alpha1',
    kind: 'TokenRevocation',
    metadata: { name: 'leaked-ci-token', namespace: 'shop' },
    spec: {
      policyName: 'orders-api',
      reason: 'token printed in CI logs',
      expiresAt: '2026-12-01T00:00:00Z',
      tokens: [
        { jti: '4f1c2e' },
        { tokenSha256: '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08' },
        { subject: 'user-42', issuer: 'https://auth.example.com/', issuedBefore: '2026-11-29T10:00:00Z' },
      ],
    },
  };
}

/** An EC P-256 public JWK (RFC 7517 appendix A.1). */
export const EC_PUBLIC_JWK = {
  kty: 'EC',
  crv: 'P-256',
  x: 'MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4',
  y: '4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM',
  kid: '1',
};

/**
 * The README's example plus every key source and every optional field (what the CRD tests send
 * to the API server): validPolicy() with more issuers (inline `jwks` keys at issuers[2]), rules,
 * claims and the optional blocks; no namespace in metadata (the request names it).
 */
export function fullPolicy(name: string, jwks: Loose[]): Loose {
  const policy = validPolicy();
  policy.metadata = { name };
  policy.spec.selector.matchExpressions = [{ key: 'tier', operator: 'In', values: ['web', 'api'] }];
  policy.spec.issuers.push(
    { issuer: 'https://login.example.org/realms/shop', audiences: ['orders-api', 'shop'], discovery: true },
    {
      issuer: 'ci',
      audiences: ['orders-api'],
      jwks: { keys: structuredClone(jwks) },
      algorithms: ['ES256', 'RS256', 'PS512', 'EdDSA'],
    },
    { issuer: 'http://127.0.0.1:8443/', audiences: ['local'], jwksUri: 'http://127.0.0.1:8443/jwks.json' },
    { issuer: 'dev-v6', audiences: ['local'], jwksUri: 'http://[::1]:9000/jwks' },
    {
      issuer: 'dev-localhost',
      audiences: ['local'],
      jwksUri: 'http://localhost:9000/jwks',
      discovery: false,
    },
  );
  policy.spec.rules.push(
    { name: 'internal', paths: ['/internal/*', '/'], methods: ['POST', 'DELETE'], action: 'Deny' },
    { name: 'everything', paths: ['/*'], action: 'Authenticate' },
  );
  policy.spec.forwardClaims.push({ claim: 'email', header: 'x-auth-email' });
  Object.assign(policy.spec, {
    forwardToken: false,
    trustedProxies: ['10.0.0.0/8', '192.168.1.7/32', 'fd00::/8'],
    paths: { caseInsensitive: false, matrixParameters: 'Reject' },
    http: { allowUnderscoreHeaders: false },
  });
  return policy;
}

/** validRevocation() with a subject-only entry too; no namespace in metadata. */
export function fullRevocation(name: string): Loose {
  const revocation = validRevocation();
  revocation.metadata = { name };
  revocation.spec.tokens.push({ subject: 'user-43' });
  return revocation;
}
