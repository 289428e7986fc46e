import { describe } from 'vitest';
import { EC_PUBLIC_JWK } from '../../support/manifests.js';
import { type BadCase, issuer, itRejects } from './policy-cases.js';

const bad: BadCase[] = [
  { name: 'no issuers', mutate: (p) => delete p.spec.issuers, fields: ['spec.issuers'] },
  {
    name: 'an empty issuer list',
    mutate: (p) => (p.spec.issuers = []),
    fields: ['spec.issuers'],
    message: 'at least one issuer',
  },
  { name: 'an empty issuer', mutate: (p) => (issuer(p).issuer = ''), fields: ['spec.issuers[0].issuer'] },
  {
    name: 'an issuer that is no URL',
    mutate: (p) => (issuer(p).issuer = 'auth example'),
    fields: ['spec.issuers[0].issuer'],
  },
  { name: 'no audiences', mutate: (p) => delete issuer(p).audiences, fields: ['spec.issuers[0].audiences'] },
  {
    name: 'an empty audience',
    mutate: (p) => (issuer(p).audiences = ['']),
    fields: ['spec.issuers[0].audiences[0]'],
  },
  {
    name: 'no key source',
    mutate: (p) => delete issuer(p).jwksUri,
    fields: ['spec.issuers[0]'],
    message: 'needs a key source',
  },
  {
    name: 'two key sources',
    mutate: (p) => (issuer(p).discovery = true),
    fields: ['spec.issuers[0]'],
    message: 'found jwksUri and discovery: true',
  },
  {
    name: 'discovery: false is no key source',
    mutate: (p) => {
      delete issuer(p).jwksUri;
      issuer(p).discovery = false;
    },
    fields: ['spec.issuers[0]'],
  },
  {
    name: 'a plain-http jwksUri',
    mutate: (p) => (issuer(p).jwksUri = 'http://auth.example.com/jwks'),
    fields: ['spec.issuers[0].jwksUri'],
    message: 'must be an https URL, or http to a loopback host',
  },
  {
    name: 'a jwksUri on a localhost look-alike',
    mutate: (p) => (issuer(p).jwksUri = 'http://localhost.evil.example/jwks'),
    fields: ['spec.issuers[0].jwksUri'],
  },
  {
    name: 'a jwksUri with credentials',
    mutate: (p) => (issuer(p).jwksUri = 'https://u:p@auth.example.com/'),
    fields: ['spec.issuers[0].jwksUri'],
  },
  {
    name: 'a jwksUri over ftp',
    mutate: (p) => (issuer(p).jwksUri = 'ftp://127.0.0.1/jwks'),
    fields: ['spec.issuers[0].jwksUri'],
  },
  {
    name: 'discovery on a plain-http issuer',
    mutate: (p) => {
      delete issuer(p).jwksUri;
      issuer(p).discovery = true;
      issuer(p).issuer = 'http://auth.example.com';
    },
    fields: ['spec.issuers[0].issuer'],
  },
  {
    name: 'an inline JWKS without keys',
    mutate: (p) => {
      delete issuer(p).jwksUri;
      issuer(p).jwks = { keys: [] };
    },
    fields: ['spec.issuers[0].jwks.keys'],
  },
  {
    name: 'an inline private key',
    mutate: (p) => {
      delete issuer(p).jwksUri;
      issuer(p).jwks = { keys: [EC_PUBLIC_JWK, { ...EC_PUBLIC_JWK, d: 'secret' }] };
    },
    fields: ['spec.issuers[0].jwks.keys[1].d'],
    message: 'private key member',
  },
  {
    name: 'an inline symmetric key',
    mutate: (p) => {
      delete issuer(p).jwksUri;
      issuer(p).jwks = { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] };
    },
    fields: ['spec.issuers[0].jwks.keys[0].kty', 'spec.issuers[0].jwks.keys[0].k'],
  },
  {
    name: 'the HS256 algorithm',
    mutate: (p) => (issuer(p).algorithms = ['RS256', 'HS256']),
    fields: ['spec.issuers[0].algorithms[1]'],
    message: '"HS256" is never accepted',
  },
  {
    name: 'the none algorithm',
    mutate: (p) => (issuer(p).algorithms = ['none']),
    fields: ['spec.issuers[0].algorithms[0]'],
    message: '"none" is never accepted',
  },
  {
    name: 'an unknown algorithm',
    mutate: (p) => (issuer(p).algorithms = ['RS1']),
    fields: ['spec.issuers[0].algorithms[0]'],
    message: 'not a supported',
  },
  {
    name: 'an empty algorithm list',
    mutate: (p) => (issuer(p).algorithms = []),
    fields: ['spec.issuers[0].algorithms'],
  },
  {
    name: 'a duplicate issuer',
    mutate: (p) => void p.spec.issuers.push({ ...issuer(p) }),
    fields: ['spec.issuers[1].issuer'],
    message: 'also spec.issuers[0].issuer',
  },
  {
    name: 'a misspelt issuer field',
    mutate: (p) => {
      issuer(p).jwksUrl = issuer(p).jwksUri;
      delete issuer(p).jwksUri;
    },
    fields: ['spec.issuers[0].jwksUrl', 'spec.issuers[0]'],
  },
];

describe('validatePolicy rejects in spec.issuers', () => itRejects(bad));
