/**
 * What each session was sent: the last (generation, version) pairs, so that an ack counts only
 * when it names exactly a version that session was given at that generation. Pure
 * bookkeeping beside the session table; a session that is dropped takes its record with it.
 */
import type { Session } from './sessions.js';

/**
 * Pairs kept per session. A sidecar applies messages in order and acks each, so it is never
 * many behind; an ack older than this is refused and the next one catches up.
 */
export const SENT_KEPT = 16;

const sent = new WeakMap<Session, (readonly [number, string])[]>();

export function recordSent(s: Session, generation: number, version: string): void {
  let list = sent.get(s);
  if (list === undefined) sent.set(s, (list = []));
  list.push([generation, version]);
  if (list.length > SENT_KEPT) list.shift();
}

/** Was `version` sent on `s` at `generation`? */
export function wasSent(s: Session, generation: number, version: string): boolean {
  return sent.get(s)?.some(([g, v]) => g === generation && v === version) === true;
}
