/**
 * Manifest builders for the policy tests: a valid object per kind (the README example), a
 * fresh deep copy each call so a case can break one field and leave the others valid.
 */
import { readFileSync } from 'node:fs';

export const FIXTURES = new URL('../../fixtures/policies/', import.meta.url);

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
