import { describe, expect, it } from 'vitest';
import { Late, PartsStopError, startParts, type Part, type StopFailure } from '../../../src/core/parts.js';

function recorder(): {
  log: string[];
  part(name: string, opts?: { failStart?: boolean; failStop?: boolean }): Part;
} {
  const log: string[] = [];
  return {
    log,
    part: (name, opts = {}) => ({
      name,
      start: async () => {
        await Promise.resolve();
        log.push(`start ${name}`);
        if (opts.failStart) throw new Error(`${name} cannot start`);
      },
      stop: () => {
        log.push(`stop ${name}`);
        if (opts.failStop) throw new Error(`${name} cannot stop`);
      },
    }),
  };
}

describe('startParts', () => {
  it('starts in order and stops in reverse', async () => {
    const r = recorder();
    const running = await startParts([r.part('a'), r.part('b'), r.part('c')]);
    expect(r.log).toEqual(['start a', 'start b', 'start c']);
    await running.stop();
    expect(r.log.slice(3)).toEqual(['stop c', 'stop b', 'stop a']);
  });

  it('a failing start stops the started parts in reverse and rethrows, never starting the rest', async () => {
    const r = recorder();
    const failures: StopFailure[] = [];
    await expect(
      startParts(
        [r.part('a'), r.part('b', { failStop: true }), r.part('c', { failStart: true }), r.part('d')],
        {
          onStopFailure: (f) => failures.push(f),
        },
      ),
    ).rejects.toThrow('c cannot start');
    expect(r.log).toEqual(['start a', 'start b', 'start c', 'stop b', 'stop a']);
    expect(failures.map((f) => f.part)).toEqual(['b']);
  });

  it('collects stop errors after asking every part to stop', async () => {
    const r = recorder();
    const running = await startParts([
      r.part('a', { failStop: true }),
      r.part('b'),
      r.part('c', { failStop: true }),
    ]);
    const err = await running.stop().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PartsStopError);
    expect((err as PartsStopError).failures.map((f) => f.part)).toEqual(['c', 'a']);
    expect(r.log.slice(3)).toEqual(['stop c', 'stop b', 'stop a']);
  });

  it('stop is idempotent: each part stops once, every caller gets the same outcome', async () => {
    const r = recorder();
    const running = await startParts([r.part('a'), r.part('b')]);
    const first = running.stop();
    const second = running.stop();
    expect(second).toBe(first);
    await first;
    await running.stop();
    expect(r.log.filter((l) => l.startsWith('stop'))).toEqual(['stop b', 'stop a']);
  });

  it('parts without start or stop are allowed', async () => {
    const r = recorder();
    const running = await startParts([
      { name: 'only-stop', stop: () => void r.log.push('stop x') },
      { name: 'empty' },
    ]);
    await running.stop();
    expect(r.log).toEqual(['stop x']);
  });
});

describe('Late', () => {
  it('reads what was set, and refuses a read before', () => {
    const late = new Late<number>('answer');
    expect(() => late.get()).toThrow('answer used before it was built');
    late.set(42);
    expect(late.get()).toBe(42);
  });
});
