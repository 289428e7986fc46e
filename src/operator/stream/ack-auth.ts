/**
 * Acks and key refreshes are authenticated as strongly as the stream they belong to: the
 * request must carry the pod's projected ServiceAccount token, and that token must be the
 * same pod's (namespace, name and uid) as the session's. The session id is only a handle.
 *
 * The token the stream was opened with passed a TokenReview moments before; the same bytes
 * presented again (compared by SHA-256, in constant time) are accepted without another review
 * until the token's own `exp`, so a thousand sidecars acking every 5 s cost no TokenReviews.
 * Any other token (the kubelet rotated it, or someone else's) is reviewed like the stream's
 * and must name the session's pod; it then becomes the session's.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { StreamRefusalReason } from '../../distribution/protocol.js';
import type { AdmissionRefusal } from './admission.js';
import type { GateAnswer } from './gate.js';
import { tokenExpiryMs } from './review-cache.js';
import type { PodRef, Session } from './sessions.js';

export type AckAuth =
  | { readonly ok: true }
  | {
      readonly ok: false;
      readonly status: number;
      readonly reason: StreamRefusalReason | AdmissionRefusal;
      readonly message: string;
    };

interface Binding {
  readonly fingerprint: Buffer;
  /** Epoch ms; 0 when the token carries no readable `exp` (every use is reviewed). */
  readonly expiresAt: number;
}

const fingerprint = (token: string): Buffer => createHash('sha256').update(token).digest();

const samePod = (a: PodRef, b: PodRef): boolean =>
  a.uid === b.uid && a.namespace === b.namespace && a.name === b.name;

export class AckGuard {
  readonly #bound = new WeakMap<Session, Binding>();

  constructor(
    /** The stream's door (gate.ts): cached reviews, shed when over its limits. */
    private readonly review: (token: string) => Promise<GateAnswer>,
    private readonly now: () => number = Date.now,
  ) {}

  /** The token `s` was opened with (just reviewed by the stream route). */
  bind(s: Session, token: string): void {
    this.#bound.set(s, { fingerprint: fingerprint(token), expiresAt: tokenExpiryMs(token) ?? 0 });
  }

  async check(s: Session, token: string): Promise<AckAuth> {
    const b = this.#bound.get(s);
    const f = fingerprint(token);
    if (b !== undefined && timingSafeEqual(b.fingerprint, f) && this.now() < b.expiresAt) return { ok: true };
    const who = await this.review(token);
    if (!who.ok && 'shed' in who)
      return {
        ok: false,
        status: 503,
        reason: who.shed,
        message: 'the operator is shedding load: retry after the delay given',
      };
    if (!who.ok) return { ok: false, status: who.status, reason: who.reason, message: who.message };
    if (!samePod(who.pod, s.pod))
      return {
        ok: false,
        status: 403,
        reason: 'wrong_pod',
        message: 'the token is not the pod of this session',
      };
    this.bind(s, token);
    return { ok: true };
  }
}
