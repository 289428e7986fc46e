/**
 * Which events this replica has acted on, by issuer + jti: a second token with a jti already
 * seen is a replay (refused), the very same token again is a retransmission (answered as done,
 * nothing written twice). Bounded: an entry is kept until its token would be refused as stale
 * anyway (`iat` + window), and at most `maxEntries` are held; when full the oldest goes. That
 * loses nothing that matters: a revocation's name is derived from issuer + jti
 * (revocation.ts), so a replay that got past a forgotten entry still writes no second object.
 *
 * Pure state; `now` passed in.
 */
export type ReplayCheck = 'new' | 'same' | 'replayed';

interface Seen {
  readonly tokenSha256: string;
  readonly untilSeconds: number;
}

export class ReplayMemory {
  private readonly seen = new Map<string, Seen>();

  constructor(private readonly maxEntries: number) {}

  check(issuer: string, jti: string, tokenSha256: string, nowSeconds: number): ReplayCheck {
    const entry = this.seen.get(key(issuer, jti));
    if (entry === undefined || entry.untilSeconds <= nowSeconds) return 'new';
    return entry.tokenSha256 === tokenSha256 ? 'same' : 'replayed';
  }

  /** Called once the event's revocation exists: from now on the jti is spent. */
  remember(issuer: string, jti: string, tokenSha256: string, untilSeconds: number, nowSeconds: number): void {
    const k = key(issuer, jti);
    this.seen.delete(k); // re-inserted last: the Map's order is the eviction order
    if (this.seen.size >= this.maxEntries) this.prune(nowSeconds);
    this.seen.set(k, { tokenSha256, untilSeconds });
  }

  get size(): number {
    return this.seen.size;
  }

  private prune(nowSeconds: number): void {
    for (const [k, v] of this.seen) if (v.untilSeconds <= nowSeconds) this.seen.delete(k);
    while (this.seen.size >= this.maxEntries) {
      const oldest = this.seen.keys().next();
      if (oldest.done === true) break;
      this.seen.delete(oldest.value);
    }
  }
}

function key(issuer: string, jti: string): string {
  return `${issuer}\n${jti}`;
}
