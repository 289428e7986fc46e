/**
 * TokenRevocation manifests the CRD must refuse with 422, each with the field the API server's
 * message must name: one mutation of a good manifest per case (crds-refuses.test.ts runs them).
 */
import type { BadCase } from './crds-support.js';

export const badRevocations: BadCase[] = [
  {
    name: 'a revocation without entries',
    kind: 'revocation',
    mutate: (s) => (s.tokens = []),
    field: 'spec.tokens',
  },
  {
    name: 'a revocation without tokens',
    kind: 'revocation',
    mutate: (s) => delete s.tokens,
    field: 'spec.tokens',
  },
  {
    name: 'more than 1000 entries',
    kind: 'revocation',
    mutate: (s) => (s.tokens = Array.from({ length: 1001 }, (_, i) => ({ jti: `j${i}` }))),
    field: 'spec.tokens',
  },
  {
    name: 'an entry with two matchers',
    kind: 'revocation',
    mutate: (s) => (s.tokens[0].subject = 'user-1'),
    field: 'spec.tokens[0]',
  },
  {
    name: 'an entry without a matcher',
    kind: 'revocation',
    mutate: (s) => (s.tokens[3] = { issuer: 'https://auth.example.com/' }),
    field: 'spec.tokens[3]',
  },
  {
    name: 'an issuer on a jti entry',
    kind: 'revocation',
    mutate: (s) => (s.tokens[0].issuer = 'https://auth.example.com/'),
    field: 'spec.tokens[0].issuer',
  },
  {
    name: 'issuedBefore on a tokenSha256 entry',
    kind: 'revocation',
    mutate: (s) => (s.tokens[1].issuedBefore = '2026-11-29T10:00:00Z'),
    field: 'spec.tokens[1].issuedBefore',
  },
  {
    name: 'an upper-case tokenSha256',
    kind: 'revocation',
    mutate: (s) => (s.tokens[1].tokenSha256 = (s.tokens[1].tokenSha256 as string).toUpperCase()),
    field: 'spec.tokens[1].tokenSha256',
  },
  {
    name: 'a tokenSha256 of the wrong length',
    kind: 'revocation',
    mutate: (s) => (s.tokens[1].tokenSha256 = 'abc123'),
    field: 'spec.tokens[1].tokenSha256',
  },
  {
    name: 'an expiresAt that is not RFC 3339',
    kind: 'revocation',
    mutate: (s) => (s.expiresAt = 'next tuesday'),
    field: 'spec.expiresAt',
  },
  {
    name: 'an issuedBefore that is not RFC 3339',
    kind: 'revocation',
    mutate: (s) => (s.tokens[2].issuedBefore = '29/11/2026'),
    field: 'spec.tokens[2].issuedBefore',
  },
  {
    name: 'a reason over 1024 characters',
    kind: 'revocation',
    mutate: (s) => (s.reason = 'x'.repeat(1025)),
    field: 'spec.reason',
  },
  {
    name: 'a policyName that is not an object name',
    kind: 'revocation',
    mutate: (s) => (s.policyName = 'Orders API'),
    field: 'spec.policyName',
  },
];
