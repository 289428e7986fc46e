/**
 * Was a (generation, version) pair sent on a session? An ack counts only when it names exactly
 * such a pair. A session is sent every generation of its policy's feed from its first message
 * on (a delta per change, or a snapshot when it is not at a delta's base), so the pair was sent
 * exactly when the generation lies between the session's first and last sent ones and the feed
 * held that version at that generation. The feed remembers its generations once per policy
 * (policy-feed.ts, GENERATIONS_KEPT), so a session costs two numbers, not a list of what it got.
 */
import type { PolicyFeed } from './policy-feed.js';
import type { Session } from './sessions.js';

/** Bookkeeping of a send: the session's first generation is fixed by its first message. */
export function recordSent(s: Session, generation: number, version: string): void {
  if (s.firstGeneration === 0) s.firstGeneration = generation;
  s.wroteSinceTick = true;
  s.sentGeneration = generation;
  s.sentVersion = version;
}

/** Was `version` sent on `s` at `generation`? `feed` is the session's policy's. */
export function wasSent(
  s: Session,
  feed: PolicyFeed | undefined,
  generation: number,
  version: string,
): boolean {
  if (feed === undefined || s.firstGeneration === 0) return false;
  if (generation < s.firstGeneration || generation > s.sentGeneration) return false;
  return feed.versionAt(generation) === version;
}
