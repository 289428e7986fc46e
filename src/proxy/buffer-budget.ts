/**
 * The bytes the proxy may hold for clients slower than the app, in all (ADR 0014): request
 * bodies read before an upstream connection is taken, and answers read from the app ahead of
 * a client that has not taken them yet. Each buffer claims its whole bound up front, so the
 * sum of the claims is the most memory these buffers can use. A claim refused is never an
 * error: the exchange streams instead (a body from its first byte, an answer paced by the
 * client), and the pool's stall eviction (forward.ts) keeps that from holding the app.
 */
export class BufferBudget {
  #free: number;

  constructor(readonly totalBytes: number) {
    this.#free = totalBytes;
  }

  /** Claims `bytes`; false (nothing claimed) when fewer are free. */
  take(bytes: number): boolean {
    if (bytes > this.#free) return false;
    this.#free -= bytes;
    return true;
  }

  give(bytes: number): void {
    this.#free = Math.min(this.totalBytes, this.#free + bytes);
  }

  get free(): number {
    return this.#free;
  }
}

/** 16 MiB: 256 buffers of 64 KiB, a sixth of the default memory budget. */
export const DEFAULT_BUFFER_BUDGET_BYTES = 16 * 1024 * 1024;
