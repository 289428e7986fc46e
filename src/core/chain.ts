/**
 * One chain, two modes (cert-manager's policy chains): a decision is a list of small steps,
 * each returning a failure `(reason, description)` or undefined. The request path runs a chain
 * to its first failure; `tokenwarden check` runs the same chain to the end and lists every
 * failure. Both read the same steps, so they cannot disagree about what fails first.
 *
 * Mode is chosen by `every`: undefined → stop at the first failure and return it (allocates
 * nothing on the passing path); an array → push every failure into it and return the first.
 */
import type { DenyReason } from './reasons.js';

export interface Failure<R extends string = DenyReason> {
  readonly reason: R;
  readonly description: string;
}

/** One step of a chain: a failure, or undefined when it passes. */
export type Step<C, F extends Failure<string> = Failure> = (ctx: C) => F | undefined;

/** Runs `steps` over `ctx`: to the first failure, or through all of them into `every`. */
export function runChain<C, F extends Failure<string>>(
  steps: readonly Step<C, F>[],
  ctx: C,
  every?: F[],
): F | undefined {
  let first: F | undefined;
  for (let i = 0; i < steps.length; i++) {
    const failure = (steps[i] as Step<C, F>)(ctx);
    if (failure === undefined) continue;
    if (every === undefined) return failure;
    every.push(failure);
    first ??= failure;
  }
  return first;
}

/** Records one failure in the chain's mode; true when the chain must stop (first-failure mode). */
export function record<F>(failure: F, every: F[] | undefined): boolean {
  if (every === undefined) return true;
  every.push(failure);
  return false;
}
