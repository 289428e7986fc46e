/**
 * A process as a list of parts, started in order and stopped in reverse (the shape of
 * controller-runtime's Manager and its Runnables). A part that fails to start cleans up what it
 * began itself; the runner then stops the parts already started, in reverse, and rethrows.
 * Stopping runs every part's stop even when one fails, and reports the failures together.
 */

export interface Part {
  /** For logs and errors: what this part is. */
  readonly name: string;
  start?(): void | Promise<void>;
  stop?(): void | Promise<void>;
}

export interface StopFailure {
  readonly part: string;
  readonly error: unknown;
}

export interface RunningParts {
  /** Stops every started part in reverse order. Idempotent: later calls get the same promise. */
  stop(): Promise<void>;
}

export interface PartsOptions {
  /** Called for each stop that failed while unwinding a failed start (the start error wins). */
  readonly onStopFailure?: (failure: StopFailure) => void;
}

/** Thrown by `stop()` when one or more parts failed to stop; every part was still asked to. */
export class PartsStopError extends AggregateError {
  constructor(readonly failures: readonly StopFailure[]) {
    super(
      failures.map((f) => f.error),
      `parts failed to stop: ${failures.map((f) => f.part).join(', ')}`,
    );
    this.name = 'PartsStopError';
  }
}

async function stopInReverse(parts: readonly Part[]): Promise<StopFailure[]> {
  const failures: StopFailure[] = [];
  for (const part of [...parts].reverse()) {
    try {
      await part.stop?.();
    } catch (error) {
      failures.push({ part: part.name, error });
    }
  }
  return failures;
}

export async function startParts(parts: readonly Part[], options: PartsOptions = {}): Promise<RunningParts> {
  const started: Part[] = [];
  for (const part of parts) {
    try {
      await part.start?.();
    } catch (err) {
      for (const failure of await stopInReverse(started)) options.onStopFailure?.(failure);
      throw err;
    }
    started.push(part);
  }
  let stopping: Promise<void> | undefined;
  const stop = async (): Promise<void> => {
    const failures = await stopInReverse(started);
    if (failures.length > 0) throw new PartsStopError(failures);
  };
  return { stop: () => (stopping ??= stop()) };
}

/**
 * A reference set once and read later: how wiring breaks a cycle (A's callback needs B, B is
 * built from A) without naming an object before its declaration. Reading it unset throws.
 */
export class Late<T> {
  private value: T | undefined;
  constructor(private readonly name: string) {}
  set(value: T): T {
    this.value = value;
    return value;
  }
  get(): T {
    if (this.value === undefined) throw new Error(`${this.name} used before it was built`);
    return this.value;
  }
}
