/**
 * When a sidecar posts its acknowledgement. An ack names the newest (generation, version) the
 * sidecar holds, and that version's content hash covers every revocation before it, so one ack
 * after a burst says everything the burst's own acks would have said. The pacer therefore sends
 * the first ack after a quiet spell at once (an isolated revocation is acknowledged as fast as
 * ever) and folds the acks of a burst into one at most every `minIntervalMs`, sent when that
 * interval ends and naming what is held then. A push to 1,000 sidecars at 10 revocations a
 * second costs the operator 1,000 × 1000/minIntervalMs POSTs a second instead of 10,000 (ADR
 * 0011). The caller's `send` reads the held version when it runs, never when it was requested.
 */
export interface AckPacerOptions {
  readonly minIntervalMs: number;
  readonly now: () => number;
  readonly send: () => void;
}

export class AckPacer {
  readonly #o: AckPacerOptions;
  #lastSentAt = Number.NEGATIVE_INFINITY;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: AckPacerOptions) {
    this.#o = options;
  }

  /** There is something to acknowledge: send now, or once the interval since the last ack ends. */
  request(): void {
    if (this.#timer !== undefined) return; // the ack already scheduled will name the newest version
    const wait = this.#lastSentAt + this.#o.minIntervalMs - this.#o.now();
    if (wait <= 0) {
      this.#fire();
      return;
    }
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#fire();
    }, wait);
    this.#timer.unref();
  }

  /**
   * The periodic ack that tells the operator this session is alive: sent only when no ack left
   * in the last half of `intervalMs` (one that did says as much), so between two acks there are
   * at most 1.5 intervals, well inside the operator's 15 s. Under a steady stream of changes
   * the paced acks carry the liveness and the periodic one costs nothing.
   */
  keepAlive(intervalMs: number): void {
    if (this.#o.now() - this.#lastSentAt < intervalMs / 2) return;
    this.request();
  }

  /** A new stream (a new session): nothing pending, and its first ack goes at once. */
  reset(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#lastSentAt = Number.NEGATIVE_INFINITY;
  }

  #fire(): void {
    this.#lastSentAt = this.#o.now();
    this.#o.send();
  }
}
