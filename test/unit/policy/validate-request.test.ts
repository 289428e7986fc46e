import { describe } from 'vitest';
import { type BadCase, issuer, itRejects } from './policy-cases.js';

const bad: BadCase[] = [
  {
    name: 'a forwardToken that is not a boolean',
    mutate: (p) => (p.spec.forwardToken = 'yes'),
    fields: ['spec.forwardToken'],
  },
  {
    name: 'an empty trustedProxies list',
    mutate: (p) => (p.spec.trustedProxies = []),
    fields: ['spec.trustedProxies'],
    message: 'trust no proxy',
  },
  {
    name: 'a trusted proxy that is a host name',
    mutate: (p) => (p.spec.trustedProxies = ['proxy.example.com']),
    fields: ['spec.trustedProxies[0]'],
    message: 'CIDR',
  },
  {
    name: 'a CIDR with host bits set',
    mutate: (p) => (p.spec.trustedProxies = ['10.0.0.0/8', '10.1.2.3/8']),
    fields: ['spec.trustedProxies[1]'],
    message: 'network address',
  },
  {
    name: 'an IPv6 CIDR with host bits set',
    mutate: (p) => (p.spec.trustedProxies = ['fd00::1/8']),
    fields: ['spec.trustedProxies[0]'],
  },
  {
    name: 'a prefix longer than the address',
    mutate: (p) => (p.spec.trustedProxies = ['10.0.0.0/33']),
    fields: ['spec.trustedProxies[0]'],
    message: '0 to 32',
  },
  {
    name: 'a prefix with a leading zero',
    mutate: (p) => (p.spec.trustedProxies = ['10.0.0.0/08']),
    fields: ['spec.trustedProxies[0]'],
  },
  {
    name: 'matrixParameters outside its enum',
    mutate: (p) => (p.spec.paths = { matrixParameters: 'Allow' }),
    fields: ['spec.paths.matrixParameters'],
    message: 'Reject, Strip',
  },
  {
    name: 'an unknown paths field',
    mutate: (p) => (p.spec.paths = { lowercase: true }),
    fields: ['spec.paths.lowercase'],
  },
  {
    name: 'caseInsensitive as a string',
    mutate: (p) => (p.spec.paths = { caseInsensitive: 'true' }),
    fields: ['spec.paths.caseInsensitive'],
  },
  {
    name: 'allowUnderscoreHeaders as a number',
    mutate: (p) => (p.spec.http = { allowUnderscoreHeaders: 1 }),
    fields: ['spec.http.allowUnderscoreHeaders'],
  },
  {
    name: 'an empty expectedTypes list',
    mutate: (p) => (issuer(p).expectedTypes = []),
    fields: ['spec.issuers[0].expectedTypes'],
  },
  {
    name: 'an expectedTypes entry that is not a media type',
    mutate: (p) => (issuer(p).expectedTypes = ['at jwt']),
    fields: ['spec.issuers[0].expectedTypes[0]'],
  },
];

describe('validatePolicy rejects request-handling options', () => itRejects(bad));
