import { describe, expect, it } from 'vitest';
import { backoffDelay, withJitter } from '../../../../src/operator/runtime/backoff.js';
import { WorkQueue } from '../../../../src/operator/runtime/queue.js';

import { sleep } from '../../../support/wait.js';

describe('WorkQueue', () => {
  it('holds a key once however often it is added', async () => {
    const q = new WorkQueue();
    q.add('a');
    q.add('b');
    q.add('a');
    expect(q.len()).toBe(2);
    expect(await q.get()).toBe('a');
    expect(await q.get()).toBe('b');
    expect(q.len()).toBe(0);
  });

  it('never hands a key to a second worker while the first is processing it', async () => {
    const q = new WorkQueue();
    q.add('a');
    const first = await q.get();
    q.add('a'); // an event arrives while 'a' is being reconciled
    expect(q.len()).toBe(0);
    let second: string | undefined = 'not yet';
    const waiting = q.get().then((k) => (second = k));
    await sleep(5);
    expect(second).toBe('not yet');
    q.done(first!);
    await waiting;
    expect(second).toBe('a');
  });

  it('re-queues a key added during processing exactly once, after done', async () => {
    const q = new WorkQueue();
    q.add('a');
    const k = await q.get();
    q.add('a');
    q.add('a');
    q.done(k!);
    expect(q.len()).toBe(1);
  });

  it('backs a failing key off exponentially and forgets the failures after a success', () => {
    const q = new WorkQueue({ backoff: { baseMs: 10, maxMs: 35 } });
    expect([
      q.addRateLimited('a'),
      q.addRateLimited('a'),
      q.addRateLimited('a'),
      q.addRateLimited('a'),
    ]).toEqual([10, 20, 35, 35]);
    expect(q.failures('a')).toBe(4);
    q.forget('a');
    expect(q.failures('a')).toBe(0);
    q.shutDown();
  });

  it('adds a delayed key after its delay, the earliest of several delays winning', async () => {
    const q = new WorkQueue();
    q.addAfter('a', 200);
    q.addAfter('a', 10);
    q.addAfter('a', 500);
    expect(q.len()).toBe(0);
    await sleep(40);
    expect(q.len()).toBe(1);
    await sleep(250);
    expect(q.len()).toBe(1);
    q.shutDown();
  });

  it('reports its depth', () => {
    const depths: number[] = [];
    const q = new WorkQueue({ onDepth: (d) => depths.push(d) });
    q.add('a');
    q.add('b');
    expect(depths.at(-1)).toBe(2);
  });

  it('answers undefined to waiting workers once shut down, and drains in-flight keys', async () => {
    const q = new WorkQueue();
    q.add('a');
    const k = await q.get();
    const waiter = q.get();
    const drained = q.drain(1000);
    expect(await waiter).toBeUndefined();
    setTimeout(() => q.done(k!), 20);
    expect(await drained).toBe(true);
    q.add('b');
    expect(await q.get()).toBeUndefined();
  });

  it('gives up draining after the timeout', async () => {
    const q = new WorkQueue();
    q.add('a');
    await q.get();
    expect(await q.drain(20)).toBe(false);
  });
});

describe('backoff', () => {
  it.each([
    { failures: 0, want: 0 },
    { failures: 1, want: 100 },
    { failures: 2, want: 200 },
    { failures: 5, want: 1600 },
    { failures: 6, want: 2000 },
    { failures: 1000, want: 2000 },
  ])('after $failures failures waits $want ms', ({ failures, want }) => {
    expect(backoffDelay(failures, { baseMs: 100, maxMs: 2000 })).toBe(want);
  });

  it('adds at most the jitter fraction', () => {
    expect(withJitter(1000, 0.2, () => 0)).toBe(1000);
    expect(withJitter(1000, 0.2, () => 0.999)).toBe(1200);
  });
});
