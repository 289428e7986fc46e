import { describe, expect, it } from 'vitest';
import { validateRevocation } from '../../../src/policy/validate.js';
import { type Loose, validRevocation } from '../../support/manifests.js';

interface BadCase {
  name: string;
  mutate: (r: Loose) => void;
  /** Exactly the field paths reported, in order. */
  fields: string[];
  message?: string;
}

const SHA = '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08';
/** Replaces the entries with one. */
const only = (r: Loose, entry: unknown) => (r.spec.tokens = [entry]);

const bad: BadCase[] = [
  { name: 'a wrong kind', mutate: (r) => (r.kind = 'TokenPolicy'), fields: ['kind'] },
  {
    name: 'a wrong apiVersion',
    mutate: (r) => (r.apiVersion = 'tokenwarden.dev/v1'),
    fields: ['apiVersion'],
  },
  {
    name: 'no apiVersion',
    mutate: (r) => delete r.apiVersion,
    fields: ['apiVersion'],
    message: 'is required',
  },
  { name: 'an invalid name', mutate: (r) => (r.metadata.name = '-leak'), fields: ['metadata.name'] },
  { name: 'no spec', mutate: (r) => delete r.spec, fields: ['spec'] },
  { name: 'no tokens', mutate: (r) => delete r.spec.tokens, fields: ['spec.tokens'] },
  {
    name: 'an empty token list',
    mutate: (r) => (r.spec.tokens = []),
    fields: ['spec.tokens'],
    message: 'at least one',
  },
  {
    name: 'tokens as a mapping',
    mutate: (r) => (r.spec.tokens = { jti: 'a' }),
    fields: ['spec.tokens'],
    message: 'must be a list',
  },
  { name: 'an entry that is a string', mutate: (r) => only(r, 'abc'), fields: ['spec.tokens[0]'] },
  {
    name: 'an entry that is null',
    mutate: (r) => only(r, null),
    fields: ['spec.tokens[0]'],
    message: 'is required',
  },
  {
    name: 'an empty entry',
    mutate: (r) => only(r, {}),
    fields: ['spec.tokens[0]'],
    message: 'needs a matcher',
  },
  {
    name: 'jti and tokenSha256 in one entry',
    mutate: (r) => only(r, { jti: 'a', tokenSha256: SHA }),
    fields: ['spec.tokens[0]'],
    message: 'found jti and tokenSha256',
  },
  {
    name: 'jti and subject in one entry',
    mutate: (r) => only(r, { jti: 'a', subject: 'u' }),
    fields: ['spec.tokens[0]'],
  },
  {
    name: 'all three matchers in one entry',
    mutate: (r) => only(r, { jti: 'a', tokenSha256: SHA, subject: 'u' }),
    fields: ['spec.tokens[0]'],
  },
  {
    name: 'a numeric jti',
    mutate: (r) => only(r, { jti: 12345 }),
    fields: ['spec.tokens[0].jti'],
    message: 'quote it in YAML: "12345"',
  },
  { name: 'an empty jti', mutate: (r) => only(r, { jti: '' }), fields: ['spec.tokens[0].jti'] },
  {
    name: 'an upper-case hash',
    mutate: (r) => only(r, { tokenSha256: SHA.toUpperCase() }),
    fields: ['spec.tokens[0].tokenSha256'],
  },
  {
    name: 'a 63-character hash',
    mutate: (r) => only(r, { tokenSha256: SHA.slice(1) }),
    fields: ['spec.tokens[0].tokenSha256'],
  },
  {
    name: 'a 65-character hash',
    mutate: (r) => only(r, { tokenSha256: `${SHA}0` }),
    fields: ['spec.tokens[0].tokenSha256'],
  },
  {
    name: 'a hash with a non-hex letter',
    mutate: (r) => only(r, { tokenSha256: `g${SHA.slice(1)}` }),
    fields: ['spec.tokens[0].tokenSha256'],
  },
  { name: 'a numeric subject', mutate: (r) => only(r, { subject: 42 }), fields: ['spec.tokens[0].subject'] },
  {
    name: 'an issuer narrowing a jti',
    mutate: (r) => only(r, { jti: 'a', issuer: 'https://i/' }),
    fields: ['spec.tokens[0].issuer'],
    message: 'only narrows a subject or sid entry',
  },
  {
    name: 'issuedBefore narrowing a sid',
    mutate: (r) => only(r, { sid: 's-1', issuedBefore: '2026-01-01T00:00:00Z' }),
    fields: ['spec.tokens[0].issuedBefore'],
    message: 'only narrows a subject entry',
  },
  {
    name: 'a sid next to a subject',
    mutate: (r) => only(r, { sid: 's-1', subject: 'alice' }),
    fields: ['spec.tokens[0]'],
    message: 'needs exactly one matcher',
  },
  {
    name: 'an empty sid',
    mutate: (r) => only(r, { sid: '' }),
    fields: ['spec.tokens[0].sid'],
  },
  {
    name: 'issuedBefore narrowing a hash',
    mutate: (r) => only(r, { tokenSha256: SHA, issuedBefore: '2026-01-01T00:00:00Z' }),
    fields: ['spec.tokens[0].issuedBefore'],
  },
  {
    name: 'an issuer alone',
    mutate: (r) => only(r, { issuer: 'https://i/' }),
    fields: ['spec.tokens[0]', 'spec.tokens[0].issuer'],
  },
  {
    name: 'an empty issuer',
    mutate: (r) => only(r, { subject: 'u', issuer: '' }),
    fields: ['spec.tokens[0].issuer'],
  },
  {
    name: 'a date without a time',
    mutate: (r) => only(r, { subject: 'u', issuedBefore: '2026-11-29' }),
    fields: ['spec.tokens[0].issuedBefore'],
    message: 'RFC 3339',
  },
  {
    name: 'a time without an offset',
    mutate: (r) => only(r, { subject: 'u', issuedBefore: '2026-11-29T10:00:00' }),
    fields: ['spec.tokens[0].issuedBefore'],
  },
  {
    name: 'the 30th of February',
    mutate: (r) => only(r, { subject: 'u', issuedBefore: '2026-02-30T10:00:00Z' }),
    fields: ['spec.tokens[0].issuedBefore'],
  },
  {
    name: 'hour 24',
    mutate: (r) => only(r, { subject: 'u', issuedBefore: '2026-11-29T24:00:00Z' }),
    fields: ['spec.tokens[0].issuedBefore'],
  },
  {
    name: 'an English expiresAt',
    mutate: (r) => (r.spec.expiresAt = 'tomorrow'),
    fields: ['spec.expiresAt'],
  },
  {
    name: 'an epoch-seconds expiresAt',
    mutate: (r) => (r.spec.expiresAt = 1764000000),
    fields: ['spec.expiresAt'],
  },
  {
    name: 'a misspelt spec field',
    mutate: (r) => (r.spec.policy = 'orders-api'),
    fields: ['spec.policy'],
    message: 'unknown field',
  },
  {
    name: 'issuedbefore in the wrong case, which must not widen the entry',
    mutate: (r) => only(r, { subject: 'u', issuedbefore: '2026-01-01T00:00:00Z' }),
    fields: ['spec.tokens[0].issuedbefore'],
  },
  {
    name: 'sub instead of subject',
    mutate: (r) => only(r, { sub: 'u' }),
    fields: ['spec.tokens[0].sub', 'spec.tokens[0]'],
  },
  {
    name: 'an invalid policyName',
    mutate: (r) => (r.spec.policyName = 'Orders_API'),
    fields: ['spec.policyName'],
  },
  { name: 'a numeric reason', mutate: (r) => (r.spec.reason = 7), fields: ['spec.reason'] },
  {
    name: 'a bad second entry, by index',
    mutate: (r) => (r.spec.tokens[1].tokenSha256 = 'abc'),
    fields: ['spec.tokens[1].tokenSha256'],
    message: '64 lower-case hex characters',
  },
];

const good: { name: string; mutate: (r: Loose) => void }[] = [
  { name: 'the README example', mutate: () => {} },
  { name: 'no policyName, reason or expiresAt', mutate: (r) => (r.spec = { tokens: [{ jti: 'a' }] }) },
  { name: 'a subject alone', mutate: (r) => only(r, { subject: 'user-42' }) },
  {
    name: 'an offset time',
    mutate: (r) => only(r, { subject: 'u', issuedBefore: '2026-11-29T10:00:00.123+02:00' }),
  },
  { name: 'a leap second', mutate: (r) => (r.spec.expiresAt = '2016-12-31T23:59:60Z') },
  { name: 'an empty reason', mutate: (r) => (r.spec.reason = '') },
];

describe('validateRevocation rejects', () => {
  it('at least 30 distinct bad manifests', () => expect(bad.length).toBeGreaterThanOrEqual(30));

  it.each(bad)('$name', ({ mutate, fields, message }) => {
    const r = validRevocation();
    mutate(r);
    const result = validateRevocation(r);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors.map((e) => e.field)).toEqual(fields);
    if (message !== undefined) expect(result.errors[0]?.message).toContain(message);
  });
});

describe('validateRevocation accepts', () => {
  it.each(good)('$name', ({ mutate }) => {
    const r = validRevocation();
    mutate(r);
    const result = validateRevocation(r);
    expect(result.ok ? [] : result.errors).toEqual([]);
  });
});
