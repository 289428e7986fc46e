import { describe, expect, it } from 'vitest';
import {
  desiredRevocationStatus,
  slowPropagationEvent,
  type RevocationStatus,
} from '../../../../src/operator/revocation/reconcile.js';

const ready = { status: 'True' as const, reason: 'Accepted' as const, message: 'ok' };
const now = new Date('2026-12-02T12:00:00Z');
const ack = (generation: number, propagationSeconds: number) => ({
  generation,
  acknowledgedAt: Date.parse('2026-12-02T12:00:01Z'),
  propagationSeconds,
  sidecars: 3,
});

describe('desiredRevocationStatus with acknowledgements', () => {
  it('records the acknowledgement of the current generation', () => {
    const s = desiredRevocationStatus(undefined, 2, 1, ready, now, ack(2, 0.25));
    expect(s).toMatchObject({
      acknowledgedGeneration: 2,
      acknowledgedAt: '2026-12-02T12:00:01.000Z',
      propagationSeconds: 0.25,
      acknowledgedSidecars: 3,
    });
  });

  it('keeps the stored acknowledgement while the new generation is not acknowledged yet', () => {
    const current: RevocationStatus = {
      acknowledgedGeneration: 1,
      acknowledgedAt: 'x',
      propagationSeconds: 0.1,
      acknowledgedSidecars: 2,
    };
    expect(desiredRevocationStatus(current, 2, 1, ready, now, ack(1, 5))).toMatchObject({
      acknowledgedGeneration: 1,
      acknowledgedSidecars: 2,
    });
  });
});

describe('slowPropagationEvent', () => {
  it.each([
    {
      name: 'slow, first acknowledged: Warning SlowPropagation',
      seconds: 1.5,
      current: undefined,
      want: 'SlowPropagation',
    },
    { name: 'within the second: no Event', seconds: 0.4, current: undefined, want: undefined },
    {
      name: 'already recorded for this generation: no second Event',
      seconds: 1.5,
      current: { acknowledgedGeneration: 2, acknowledgedAt: 'x' },
      want: undefined,
    },
  ])('$name', ({ seconds, current, want }) => {
    const desired = desiredRevocationStatus(undefined, 2, 1, ready, now, ack(2, seconds));
    expect(slowPropagationEvent(current, desired)?.reason).toBe(want);
  });
});
