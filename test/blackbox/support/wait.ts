/**
 * Bounded polling: every wait in the black-box suite ends, in count and in time. A probe returns
 * the value it was waiting for, or undefined/false to be asked again.
 */

export interface Waited<T> {
  value: T;
  /** Milliseconds from the first probe to the one that succeeded. */
  elapsedMs: number;
}

export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
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

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
