/**
 * Bounded polling for every test project: each wait ends, in count and in time. A probe returns
 * the value it was waiting for, or undefined/false to be asked again; a probe that throws is asked
 * again too, and its last error is named when the wait times out.
 */

export interface Waited<T> {
  value: T;
  /** Milliseconds from the first probe to the one that succeeded. */
  elapsedMs: number;
}

type Probe<T> = () => T | undefined | false | Promise<T | undefined | false>;

export async function waitFor<T>(
  what: string,
  probe: Probe<T>,
  timeoutMs = 5_000,
  intervalMs = 20,
): Promise<Waited<T>> {
  const started = Date.now();
  const maxAttempts = Math.ceil(timeoutMs / intervalMs) + 1;
  let lastError: unknown;
  for (let attempt = 0; attempt < maxAttempts && Date.now() - started <= timeoutMs; attempt++) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return { value, elapsedMs: Date.now() - started };
    } catch (err) {
      lastError = err;
    }
    await sleep(intervalMs);
  }
  const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
}

/** waitFor, answering the value alone. */
export async function waitForValue<T>(
  what: string,
  probe: Probe<T>,
  timeoutMs = 5_000,
  intervalMs = 20,
): Promise<T> {
  return (await waitFor(what, probe, timeoutMs, intervalMs)).value;
}

/** Waits for a condition to hold; answers the milliseconds it took. */
export async function until(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 5_000,
  intervalMs = 20,
): Promise<number> {
  return (await waitFor(what, condition, timeoutMs, intervalMs)).elapsedMs;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
