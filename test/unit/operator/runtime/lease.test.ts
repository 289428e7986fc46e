import { describe, expect, it } from 'vitest';
import {
  decideLease,
  leaderTimings,
  observe,
  stillLeading,
  type LeaseView,
} from '../../../../src/operator/runtime/lease.js';

const lease = (holder: string, renewTime = 'r1', durationSeconds = 15, transitions = 2): LeaseView => ({
  holder,
  renewTime,
  durationSeconds,
  transitions,
});

describe('decideLease', () => {
  it.each([
    { name: 'no lease: create it', l: undefined, obs: undefined, now: 0, want: { action: 'create' } },
    { name: 'mine: renew', l: lease('me'), obs: undefined, now: 0, want: { action: 'renew' } },
    {
      name: 'released: acquire at once',
      l: lease(''),
      obs: undefined,
      now: 0,
      want: { action: 'acquire', transitions: 3 },
    },
    {
      name: "another's, first seen now: wait a whole lease duration",
      l: lease('other'),
      obs: undefined,
      now: 1000,
      want: { action: 'wait', holder: 'other', expiresInMs: 15_000 },
    },
    {
      name: "another's, unchanged for less than the duration: wait",
      l: lease('other'),
      obs: { record: 'other\u0000r1', at: 1000 },
      now: 15_999,
      want: { action: 'wait', holder: 'other', expiresInMs: 1 },
    },
    {
      name: "another's, unchanged for the whole duration: take over",
      l: lease('other'),
      obs: { record: 'other\u0000r1', at: 1000 },
      now: 16_000,
      want: { action: 'acquire', transitions: 3 },
    },
    {
      name: "another's, renewed since last seen: the clock restarts",
      l: lease('other', 'r2'),
      obs: { record: 'other\u0000r1', at: 1000 },
      now: 60_000,
      want: { action: 'wait', holder: 'other', expiresInMs: 15_000 },
    },
    {
      name: "the holder's own short duration counts, not ours",
      l: lease('other', 'r1', 1),
      obs: { record: 'other\u0000r1', at: 0 },
      now: 1000,
      want: { action: 'acquire', transitions: 3 },
    },
  ])('$name', ({ l, obs, now, want }) => {
    expect(decideLease(l, 'me', obs, now)).toEqual(want);
  });
});

describe('observe', () => {
  it('moves the observation time only when the record changes', () => {
    const a = observe(undefined, lease('x', 'r1'), 100);
    expect(observe(a, lease('x', 'r1'), 900)).toBe(a);
    expect(observe(a, lease('x', 'r2'), 900).at).toBe(900);
    expect(observe(a, lease('y', 'r1'), 900).at).toBe(900);
  });
});

describe('stillLeading', () => {
  const t = leaderTimings(15);
  it('has client-go proportions', () => {
    expect(t).toEqual({ leaseMs: 15_000, renewDeadlineMs: 10_000, retryMs: 2143 });
  });
  it.each([
    { name: 'never renewed', last: undefined, now: 0, want: false },
    { name: 'just renewed', last: 1000, now: 1000, want: true },
    { name: 'renewed within the deadline', last: 1000, now: 10_999, want: true },
    {
      name: 'deadline passed: stop writing before the lease can expire',
      last: 1000,
      now: 11_000,
      want: false,
    },
  ])('$name', ({ last, now, want }) => {
    expect(stillLeading(last, now, t)).toBe(want);
  });
});
