import { describe, expect, it } from 'vitest';
import { gcDecision } from '../../../../src/operator/revocation/gc.js';

const NOW = Date.parse('2026-06-01T12:00:00Z');

describe('gcDecision', () => {
  it.each([
    {
      name: 'no expiresAt: keep forever',
      expiresAt: undefined,
      want: { action: 'keep', recheckInMs: undefined },
    },
    { name: 'in the past: delete', expiresAt: '2026-06-01T11:59:59Z', want: { action: 'delete' } },
    { name: 'exactly now: delete', expiresAt: '2026-06-01T12:00:00Z', want: { action: 'delete' } },
    {
      name: 'in 5 s: keep, look again just after',
      expiresAt: '2026-06-01T12:00:05Z',
      want: { action: 'keep', recheckInMs: 5001 },
    },
    {
      name: 'in a year: keep, look again within the hour',
      expiresAt: '2027-06-01T12:00:00Z',
      want: { action: 'keep', recheckInMs: 3_600_000 },
    },
    {
      name: 'unparsable: keep, never delete on a guess',
      expiresAt: 'tomorrow',
      want: { action: 'keep', recheckInMs: undefined },
    },
    { name: 'with an offset', expiresAt: '2026-06-01T13:00:00+02:00', want: { action: 'delete' } },
  ])('$name', ({ expiresAt, want }) => {
    expect(gcDecision(expiresAt, NOW)).toEqual(want);
  });
});
