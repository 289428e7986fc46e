/**
 * One chain, two modes (cert-manager's policy chains): a decision is a list of small steps,
 * each returning a failure `(reason, description)` or undefined. The request path runs a chain
 * to its first failure; `tokenwarden check` runs the same chain to the end and lists every
 * failure. Both read the same steps, so they cannot disagree about what fails first.
 *
 * Mode is chosen by `every`: undefined → stop at the first failure and return it (allocates
 * nothing on the passing path); an array → push every failure into it and return the first.
 *
 * A step may itself be a chain over a list known only at run time (a rule's required scopes):
 * it takes `every`, pushes each of its failures there itself and returns its first (`runEach`
 * does exactly that). A step that pushes nothing has its returned failure pushed for it.
 *
 * A step may answer with a promise (a shared reuse store across the network): the chain then
 * goes on after it settles, and the whole run is a promise. While every step answers
 * synchronously, so does the chain: no promise on the hot path.
 */
import type { DenyReason } from './reasons.js';

export interface Failure<R extends string = DenyReason> {
  readonly reason: R;
  readonly description: string;
}

/** One step of a chain: a failure, or undefined when it passes. */
export type Step<C, F extends Failure<string> = Failure> = (ctx: C, every?: F[]) => F | undefined;

/** A step that may have to wait (see the module comment). */
export type AsyncStep<C, F extends Failure<string> = Failure> = (
  ctx: C,
  every?: F[],
) => F | undefined | Promise<F | undefined>;

/** Runs `steps` over `ctx`: to the first failure, or through all of them into `every`. */
export function runChain<C, F extends Failure<string>>(
  steps: readonly Step<C, F>[],
  ctx: C,
  every?: F[],
): F | undefined;
export function runChain<C, F extends Failure<string>>(
  steps: readonly AsyncStep<C, F>[],
  ctx: C,
  every?: F[],
): F | undefined | Promise<F | undefined>;
export function runChain<C, F extends Failure<string>>(
  steps: readonly AsyncStep<C, F>[],
  ctx: C,
  every?: F[],
): F | undefined | Promise<F | undefined> {
  return runFrom(steps, ctx, every, 0, undefined);
}

function runFrom<C, F extends Failure<string>>(
  steps: readonly AsyncStep<C, F>[],
  ctx: C,
  every: F[] | undefined,
  from: number,
  first: F | undefined,
): F | undefined | Promise<F | undefined> {
  for (let i = from; i < steps.length; i++) {
    const pushed = every === undefined ? 0 : every.length;
    const out = (steps[i] as AsyncStep<C, F>)(ctx, every);
    if (out instanceof Promise) {
      return out.then((f) => {
        if (f !== undefined && every === undefined) return f;
        if (f !== undefined) {
          const kept = settle(f, every as F[], pushed);
          first ??= kept;
        }
        return runFrom(steps, ctx, every, i + 1, first);
      });
    }
    if (out === undefined) continue;
    if (every === undefined) return out;
    const kept = settle(out, every, pushed);
    first ??= kept;
  }
  return first;
}

/** Every-failure mode: keeps `f` unless the step pushed its own failures already. */
function settle<F>(f: F, every: F[], pushedBefore: number): F {
  if (every.length === pushedBefore) every.push(f);
  return f;
}

/**
 * A chain over `items` (a list known at run time): `check` for each, in order, in the chain's
 * mode. Usable as a step of an outer chain (it pushes its own failures).
 */
export function runEach<T, C, F>(
  items: readonly T[],
  check: (item: T, ctx: C) => F | undefined,
  ctx: C,
  every?: F[],
): F | undefined {
  let first: F | undefined;
  for (let i = 0; i < items.length; i++) {
    const failure = check(items[i] as T, ctx);
    if (failure === undefined) continue;
    if (every === undefined) return failure;
    every.push(failure);
    first ??= failure;
  }
  return first;
}
