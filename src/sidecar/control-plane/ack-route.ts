/**
 * How a sidecar's acks reach this operator. An operator that takes them on the stream
 * (`POST /v1/config`, its request body carrying ack lines) is asked that way; one that predates
 * it answers that POST with a routing refusal (404, 405 or 415 without a contract `reason`),
 * and is then asked `GET /v1/config` with acks as `POST /v1/ack`, remembered for
 * `OLDER_OPERATOR_RECHECK_MS`: replicas are upgraded one by one, so the POST is tried again
 * after that rather than never. Pure, `now` passed in.
 */

/** How long an operator that refused acks on the stream is asked the older way. */
export const OLDER_OPERATOR_RECHECK_MS = 10 * 60_000;

/**
 * A refusal of `POST /v1/config` that means "no such route" rather than one of the contract's
 * refusals: those carry a `reason` (a 404 `no_policy` is the pod's, and stays a refusal).
 */
export function isOlderOperator(status: number, reason: unknown): boolean {
  return (status === 404 || status === 405 || status === 415) && typeof reason !== 'string';
}

export class AckRoute {
  #olderAt: number | undefined;

  constructor(private readonly now: () => number) {}

  /** True: open the stream as `POST /v1/config` and ack on it. */
  onStream(): boolean {
    if (this.#olderAt === undefined) return true;
    if (this.now() - this.#olderAt < OLDER_OPERATOR_RECHECK_MS) return false;
    this.#olderAt = undefined;
    return true;
  }

  /** The operator refused the POST as one that predates it (`isOlderOperator`). */
  olderOperator(): void {
    this.#olderAt = this.now();
  }
}
