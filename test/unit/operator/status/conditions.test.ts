import { describe, expect, it } from 'vitest';
import {
  desiredPolicyStatus,
  readyTransitionEvent,
  setCondition,
  statusChanged,
  type PolicyFacts,
} from '../../../../src/operator/status/conditions.js';
import type { Condition } from '../../../../src/policy/types.js';

const T0 = new Date('2026-01-01T00:00:00.123Z');
const T1 = new Date('2026-01-01T00:05:00Z');

const facts = (over: Partial<PolicyFacts> = {}): PolicyFacts => ({
  generation: 2,
  ready: { status: 'True', reason: 'Compiled', message: 'compiled' },
  matchedPods: 3,
  revocations: 1,
  ...over,
});

describe('setCondition', () => {
  it('adds a missing condition, stamped now (whole seconds, as metav1.Time)', () => {
    const list = setCondition(
      undefined,
      { type: 'Ready', status: 'True', reason: 'Compiled', message: 'm' },
      T0,
    );
    expect(list).toEqual([
      {
        type: 'Ready',
        status: 'True',
        reason: 'Compiled',
        message: 'm',
        lastTransitionTime: '2026-01-01T00:00:00Z',
      },
    ]);
  });

  it('keeps lastTransitionTime while the status stays, even if reason or message change', () => {
    const before = setCondition(
      undefined,
      { type: 'Ready', status: 'False', reason: 'InvalidSpec', message: 'a' },
      T0,
    );
    const after = setCondition(
      before,
      { type: 'Ready', status: 'False', reason: 'KeysUnavailable', message: 'b' },
      T1,
    );
    expect(after[0]?.lastTransitionTime).toBe('2026-01-01T00:00:00Z');
    expect(after[0]?.reason).toBe('KeysUnavailable');
  });

  it('moves lastTransitionTime when the status changes, leaving other conditions alone', () => {
    const other: Condition = {
      type: 'Other',
      status: 'True',
      reason: 'X',
      message: '',
      lastTransitionTime: 'then',
    };
    const before = setCondition(
      [other],
      { type: 'Ready', status: 'False', reason: 'InvalidSpec', message: 'a' },
      T0,
    );
    const after = setCondition(
      before,
      { type: 'Ready', status: 'True', reason: 'Compiled', message: 'ok' },
      T1,
    );
    expect(after).toHaveLength(2);
    expect(after[0]).toBe(other);
    expect(after[1]?.lastTransitionTime).toBe('2026-01-01T00:05:00Z');
  });

  it('truncates a message longer than the API allows', () => {
    const [c] = setCondition(
      undefined,
      { type: 'Ready', status: 'False', reason: 'R', message: 'x'.repeat(40_000) },
      T0,
    );
    expect(c?.message.length).toBe(32_768);
  });
});

describe('statusChanged', () => {
  it('is false when a reconcile finds the same facts again (no write, no hot loop)', () => {
    const stored = desiredPolicyStatus(undefined, facts(), T0);
    const again = desiredPolicyStatus(stored, facts(), T1);
    expect(statusChanged(stored, again)).toBe(false);
  });

  it('ignores key order and absent-versus-zero counters of the stored status', () => {
    const stored = desiredPolicyStatus(undefined, facts({ matchedPods: 0, revocations: 0 }), T0);
    const fromServer = JSON.parse(JSON.stringify({ conditions: stored.conditions, observedGeneration: 2 }));
    expect(
      statusChanged(
        fromServer,
        desiredPolicyStatus(fromServer, facts({ matchedPods: 0, revocations: 0 }), T1),
      ),
    ).toBe(false);
  });

  it.each([
    { name: 'a new generation', over: { generation: 3 } },
    { name: 'another pod count', over: { matchedPods: 4 } },
    { name: 'another revocation count', over: { revocations: 0 } },
    { name: 'another message', over: { ready: { status: 'True', reason: 'Compiled', message: 'other' } } },
  ] as { name: string; over: Partial<PolicyFacts> }[])('is true for $name', ({ over }) => {
    const stored = desiredPolicyStatus(undefined, facts(), T0);
    expect(statusChanged(stored, desiredPolicyStatus(stored, facts(over), T1))).toBe(true);
  });

  it('is true when nothing is stored yet', () => {
    expect(statusChanged(undefined, desiredPolicyStatus(undefined, facts(), T0))).toBe(true);
  });

  it('keeps syncedSidecars as found', () => {
    expect(desiredPolicyStatus({ syncedSidecars: 7 }, facts(), T0).syncedSidecars).toBe(7);
  });
});

describe('readyTransitionEvent', () => {
  const cond = (status: 'True' | 'False', reason: string, message = 'm'): Condition => ({
    type: 'Ready',
    status,
    reason,
    message,
    lastTransitionTime: 't',
  });
  it.each([
    {
      name: 'first Ready=True is a Normal event',
      prev: undefined,
      next: cond('True', 'Compiled'),
      want: 'Normal',
    },
    {
      name: 'first Ready=False is a Warning',
      prev: undefined,
      next: cond('False', 'InvalidSpec'),
      want: 'Warning',
    },
    {
      name: 'False→True is Normal',
      prev: cond('False', 'KeysUnavailable'),
      next: cond('True', 'Compiled'),
      want: 'Normal',
    },
    {
      name: 'a reason change is a transition',
      prev: cond('False', 'InvalidSpec'),
      next: cond('False', 'KeysUnavailable'),
      want: 'Warning',
    },
    {
      name: 'same status and reason: no event',
      prev: cond('False', 'KeysUnavailable', 'a'),
      next: cond('False', 'KeysUnavailable', 'b'),
      want: undefined,
    },
    {
      name: 'still Compiled: no event',
      prev: cond('True', 'Compiled'),
      next: cond('True', 'Compiled', 'x'),
      want: undefined,
    },
  ])('$name', ({ prev, next, want }) => {
    const e = readyTransitionEvent(prev, next);
    expect(e?.type).toBe(want);
    if (e) expect(e.reason).toBe(next.reason);
  });
});
