import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AckPacer } from '../../../../src/sidecar/control-plane/ack-pacer.js';

describe('AckPacer', () => {
  beforeEach(() => void vi.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => void vi.useRealTimers());

  const pacer = () => {
    const sent: number[] = [];
    const p = new AckPacer({ minIntervalMs: 250, now: Date.now, send: () => sent.push(Date.now()) });
    return { p, sent };
  };

  it('sends the first ack after a quiet spell at once', () => {
    const { p, sent } = pacer();
    p.request();
    expect(sent).toEqual([1_000_000]);
    vi.advanceTimersByTime(1_000);
    p.request();
    expect(sent).toEqual([1_000_000, 1_001_000]);
  });

  it('folds a burst into one ack when the interval ends, and keeps at most one pending', () => {
    const { p, sent } = pacer();
    p.request(); // at once
    for (let i = 0; i < 10; i++) {
      vi.advanceTimersByTime(20);
      p.request();
    }
    expect(sent).toEqual([1_000_000]);
    vi.advanceTimersByTime(50); // 250 ms after the first
    expect(sent).toEqual([1_000_000, 1_000_250]);
    vi.advanceTimersByTime(1_000);
    expect(sent).toHaveLength(2);
  });

  it('never sends two acks closer than the interval, however requests arrive', () => {
    const { p, sent } = pacer();
    for (let t = 0; t < 3_000; t += 7) {
      p.request();
      vi.advanceTimersByTime(7);
    }
    vi.advanceTimersByTime(300);
    for (let i = 1; i < sent.length; i++)
      expect((sent[i] ?? 0) - (sent[i - 1] ?? 0)).toBeGreaterThanOrEqual(250);
    // …and the last request is acknowledged within the interval.
    expect(sent.at(-1)).toBeGreaterThanOrEqual(1_000_000 + 3_000 - 7);
  });

  it('forgets a pending ack on reset (a new session acks at once)', () => {
    const { p, sent } = pacer();
    p.request();
    vi.advanceTimersByTime(10);
    p.request(); // pending
    p.reset();
    vi.advanceTimersByTime(1_000);
    expect(sent).toEqual([1_000_000]);
    p.request();
    expect(sent).toEqual([1_000_000, 1_001_010]);
  });

  it('keepAlive: the periodic ack goes only when none left in the last half interval', () => {
    const { p, sent } = pacer();
    p.keepAlive(5_000); // nothing sent yet: goes
    expect(sent).toEqual([1_000_000]);
    vi.advanceTimersByTime(2_000);
    p.keepAlive(5_000); // 2 s after an ack: that ack said it
    expect(sent).toHaveLength(1);
    vi.advanceTimersByTime(500);
    p.keepAlive(5_000); // 2.5 s: goes
    expect(sent).toEqual([1_000_000, 1_002_500]);
    // Paced acks of a steady stream of changes leave the periodic one nothing to do.
    for (let i = 0; i < 20; i++) {
      vi.advanceTimersByTime(1_000);
      p.request();
      if (i % 5 === 4) p.keepAlive(5_000);
    }
    expect(sent).toHaveLength(22);
  });
});
