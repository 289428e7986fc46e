import { describe, expect, it } from 'vitest';
import { gcDecision } from '../../../src/operator/revocation/gc.js';
import { RevocationIndex } from '../../../src/operator/revocation/revocation-index.js';
import type { TokenRevocation } from '../../../src/policy/types.js';
import { appliesTo, expiryMs, isExpired } from '../../../src/revocation/rule.js';
import { RevocationSet } from '../../../src/revocation/set.js';

function revocation(expiresAt: string | undefined, meta: { namespace?: string; policyName?: string } = {}) {
  const r: TokenRevocation = {
    apiVersion: 'tokenwarden.dev/v1alpha1',
    kind: 'TokenRevocation',
    metadata: { name: 'r1', ...(meta.namespace === undefined ? {} : { namespace: meta.namespace }) },
    spec: { policyName: meta.policyName, expiresAt, tokens: [{ jti: 'j1' }] },
  };
  return r;
}

const POLICY = { name: 'orders', namespace: 'shop' };

/** What each of the three callers thinks of one revocation at `nowMs`. */
function views(expiresAt: string | undefined, nowMs: number) {
  const rev = revocation(expiresAt, { namespace: 'shop' });
  const index = new RevocationIndex();
  index.upsert(rev);
  return {
    sidecarEnforces: RevocationSet.build([rev], POLICY, nowMs / 1000).size > 0,
    statusCounts: index.countEntries('shop', 'orders', nowMs) > 0,
    gcDeletes: gcDecision(expiresAt, nowMs).action === 'delete',
    expired: isExpired(rev, nowMs),
  };
}

// Inputs on which `Date.parse` and the strict RFC 3339 parser disagree, and ordinary ones.
const cases: { name: string; expiresAt: string; now: string; expired: boolean }[] = [
  {
    name: 'a leap second is one second after :59 (Date.parse refuses it)',
    expiresAt: '2016-12-31T23:59:60Z',
    now: '2016-12-31T23:59:59.500Z',
    expired: false,
  },
  {
    name: 'a leap second has passed at the next whole second (Date.parse never lets it expire)',
    expiresAt: '2016-12-31T23:59:60Z',
    now: '2017-01-01T00:00:00Z',
    expired: true,
  },
  {
    name: 'an offset is honoured (+02:00 is two hours earlier in UTC)',
    expiresAt: '2026-06-01T13:00:00+02:00',
    now: '2026-06-01T11:30:00Z',
    expired: true,
  },
  {
    name: 'a negative offset is honoured',
    expiresAt: '2026-06-01T11:00:00-01:00',
    now: '2026-06-01T11:30:00Z',
    expired: false,
  },
  {
    name: 'fractional seconds count: not expired a millisecond before',
    expiresAt: '2026-06-01T12:00:00.250Z',
    now: '2026-06-01T12:00:00.249Z',
    expired: false,
  },
  {
    name: 'fractional seconds count: expired at the instant',
    expiresAt: '2026-06-01T12:00:00.250Z',
    now: '2026-06-01T12:00:00.250Z',
    expired: true,
  },
  {
    name: 'lower-case t and z are RFC 3339',
    expiresAt: '2026-06-01t12:00:00z',
    now: '2026-06-01T12:00:01Z',
    expired: true,
  },
  {
    name: 'a day that does not exist never expires (Date.parse rolls it over to March)',
    expiresAt: '2026-02-31T00:00:00Z',
    now: '2027-01-01T00:00:00Z',
    expired: false,
  },
  {
    name: 'a date without a time never expires (Date.parse accepts it)',
    expiresAt: '2026-01-01',
    now: '2027-01-01T00:00:00Z',
    expired: false,
  },
  {
    name: 'an offset without a colon never expires (Date.parse accepts it)',
    expiresAt: '2026-01-01T00:00:00+0000',
    now: '2027-01-01T00:00:00Z',
    expired: false,
  },
  {
    name: 'a free-form date never expires (Date.parse accepts it)',
    expiresAt: 'Jan 1 2026',
    now: '2027-01-01T00:00:00Z',
    expired: false,
  },
  { name: 'garbage never expires', expiresAt: 'soon', now: '2027-01-01T00:00:00Z', expired: false },
];

describe('revocation rule: one answer for sidecar, status and garbage collection', () => {
  it.each(cases)('$name', ({ expiresAt, now, expired }) => {
    const nowMs = Date.parse(now);
    expect(views(expiresAt, nowMs)).toEqual({
      sidecarEnforces: !expired,
      statusCounts: !expired,
      gcDeletes: expired,
      expired,
    });
  });

  it('a revocation without expiresAt never expires anywhere', () => {
    expect(views(undefined, Date.parse('2100-01-01T00:00:00Z'))).toEqual({
      sidecarEnforces: true,
      statusCounts: true,
      gcDeletes: false,
      expired: false,
    });
    expect(expiryMs(undefined)).toBeUndefined();
  });

  it('reads a leap second as the second after :59', () => {
    expect(expiryMs('2016-12-31T23:59:60Z')).toBe(Date.parse('2017-01-01T00:00:00Z'));
  });
});

describe('appliesTo', () => {
  it.each([
    {
      name: 'same namespace, no policyName: every policy there',
      ns: 'shop',
      policy: undefined,
      applies: true,
    },
    { name: 'same namespace, naming the policy', ns: 'shop', policy: 'orders', applies: true },
    { name: 'same namespace, naming another policy', ns: 'shop', policy: 'billing', applies: false },
    { name: 'another namespace', ns: 'other', policy: undefined, applies: false },
    {
      name: 'no namespace (a standalone file): the file policy',
      ns: undefined,
      policy: undefined,
      applies: true,
    },
  ])('$name', ({ ns, policy, applies }) => {
    const rev = revocation(undefined, {
      ...(ns === undefined ? {} : { namespace: ns }),
      ...(policy === undefined ? {} : { policyName: policy }),
    });
    expect(appliesTo(rev, POLICY)).toBe(applies);
    expect(RevocationSet.build([rev], POLICY, 0).size > 0).toBe(applies);
  });
});
