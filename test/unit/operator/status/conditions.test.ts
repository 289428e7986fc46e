import { describe, expect, it } from 'vitest';
import {
  desiredPolicyStatus,
  readyTransitionEvent,
  setCondition,
  unprotectedPodsEvent,
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
  unprotectedPods: [],
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
    {
      name: 'another unprotected count',
      over: { unprotectedPods: [{ name: 'old-1', reason: 'no_sidecar' }] },
    },
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

const np = (...names: string[]) => names.map((name) => ({ name, reason: 'no_sidecar' as const }));

describe('unprotectedPodsEvent', () => {
  it('warns when unprotected pods appear, naming them with their reasons and saying what to do', () => {
    const e = unprotectedPodsEvent(0, [
      { name: 'orders-1', reason: 'no_sidecar' },
      { name: 'orders-2', reason: 'opted_out' },
    ]);
    expect(e?.type).toBe('Warning');
    expect(e?.reason).toBe('UnprotectedPods');
    expect(e?.message).toContain('orders-1 (no_sidecar), orders-2 (opted_out)');
    expect(e?.message).toContain('no_sidecar 1, opted_out 1');
    expect(e?.message).toMatch(/restart/);
  });

  it('names five pods at most', () => {
    const pods = np(...Array.from({ length: 8 }, (_, i) => `p-${i}`));
    expect(unprotectedPodsEvent(0, pods)?.message).toContain('p-4 (no_sidecar) and 3 more');
  });

  it.each([
    { name: 'no unprotected pod', previous: 0, pods: np() },
    { name: 'as many as the stored status said', previous: 2, pods: np('a', 'b') },
    { name: 'fewer than before (some were restarted)', previous: 3, pods: np('a') },
  ])('is silent with $name', ({ previous, pods }) => {
    expect(unprotectedPodsEvent(previous, pods)).toBeUndefined();
  });
});

describe('unprotectedByReason', () => {
  it('counts the pods by reason, leaving out reasons with none', () => {
    const s = desiredPolicyStatus(
      undefined,
      facts({
        unprotectedPods: [
          { name: 'a', reason: 'lookalike' },
          { name: 'b', reason: 'opted_out' },
          { name: 'c', reason: 'lookalike' },
        ],
      }),
      T0,
    );
    expect(s.unprotectedPods).toBe(3);
    expect(s.unprotectedByReason).toEqual({ lookalike: 2, opted_out: 1 });
  });

  it('a change of reason alone is a status change', () => {
    const stored = desiredPolicyStatus(undefined, facts({ unprotectedPods: np('a') }), T0);
    const next = desiredPolicyStatus(
      stored,
      facts({ unprotectedPods: [{ name: 'a', reason: 'lookalike' }] }),
      T1,
    );
    expect(statusChanged(stored, next)).toBe(true);
  });
});

describe('the Warnings condition', () => {
  const noCap = [{ reason: 'NoLifetimeCap', message: 'no lifetime cap' }];

  it('is True with the first warning as reason when the compiled policy has warnings', () => {
    const s = desiredPolicyStatus(undefined, facts({ warnings: noCap }), T0);
    expect(s.conditions?.find((c) => c.type === 'Warnings')).toMatchObject({
      status: 'True',
      reason: 'NoLifetimeCap',
      message: 'no lifetime cap',
      observedGeneration: 2,
    });
  });

  it('is False/None when there is nothing to warn about', () => {
    const s = desiredPolicyStatus(undefined, facts({ warnings: [] }), T0);
    expect(s.conditions?.find((c) => c.type === 'Warnings')).toMatchObject({
      status: 'False',
      reason: 'None',
    });
  });

  it('is left as it was when the spec did not compile (warnings unknown)', () => {
    const stored = desiredPolicyStatus(undefined, facts({ warnings: noCap }), T0);
    const invalid = facts({ ready: { status: 'False', reason: 'InvalidSpec', message: 'bad' } });
    const next = desiredPolicyStatus(stored, invalid, T1);
    expect(next.conditions?.find((c) => c.type === 'Warnings')).toEqual(
      stored.conditions?.find((c) => c.type === 'Warnings'),
    );
  });
});
