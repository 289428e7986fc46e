/**
 * The one chain runner (src/core/chain.ts): first-failure and every-failure modes, steps that
 * are chains themselves, and steps that answer with a promise.
 */
import { describe, expect, it } from 'vitest';
import { runChain, runEach, type AsyncStep, type Failure, type Step } from '../../../src/core/chain.js';

type F = Failure<string>;
const fail = (reason: string): F => ({ reason, description: reason });
const pass: Step<number, F> = () => undefined;
const a: Step<number, F> = () => fail('a');
const b: Step<number, F> = () => fail('b');
/** A step over a list known at run time: fails for every item below ctx. */
const below: Step<number, F> = (n, every) =>
  runEach([1, 2, 3], (i, m: number) => (i < m ? fail(`lt${i}`) : undefined), n, every);

describe('runChain', () => {
  it('stops at the first failure, or lists every failure and returns the first', () => {
    expect(runChain([pass, a, b], 0)).toEqual(fail('a'));
    const every: F[] = [];
    expect(runChain([pass, a, b], 0, every)).toEqual(fail('a'));
    expect(every.map((f) => f.reason)).toEqual(['a', 'b']);
    expect(runChain([pass, pass], 0, [])).toBeUndefined();
  });

  it('a step that is a chain itself pushes its own failures, once each', () => {
    expect(runChain([pass, below, b], 3)).toEqual(fail('lt1'));
    const every: F[] = [];
    expect(runChain([below, b], 3, every)).toEqual(fail('lt1'));
    expect(every.map((f) => f.reason)).toEqual(['lt1', 'lt2', 'b']);
  });

  it('stays synchronous while every step is, and goes on after a step that answers with a promise', async () => {
    const later: AsyncStep<number, F> = () => Promise.resolve(fail('later'));
    const passLater: AsyncStep<number, F> = () => Promise.resolve(undefined);
    expect(runChain([pass, a] as AsyncStep<number, F>[], 0)).not.toBeInstanceOf(Promise);
    const first = runChain([passLater, a, b], 0);
    expect(first).toBeInstanceOf(Promise);
    expect(await first).toEqual(fail('a'));
    const every: F[] = [];
    expect(await runChain([a, later, below, b], 2, every)).toEqual(fail('a'));
    expect(every.map((f) => f.reason)).toEqual(['a', 'later', 'lt1', 'b']);
    // First-failure mode stops at the awaited failure: later steps do not run.
    let ran = false;
    const spy: Step<number, F> = () => ((ran = true), undefined);
    expect(await runChain([later, spy], 0)).toEqual(fail('later'));
    expect(ran).toBe(false);
  });
});
