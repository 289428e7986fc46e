/**
 * What goes down one session's stream: a snapshot, a delta (or a snapshot instead when the
 * session is not at the delta's base), a heartbeat. The body of each is serialised once per
 * version and shared by every session (encoded.ts); only the head naming the session is per
 * session. Each send records what the session was given, so an ack can be judged against it.
 */
import type { Proof } from '../../distribution/attestation.js';
import { encodeServerMessage } from '../../distribution/protocol.js';
import type { BundleChange, PolicyFeed } from './policy-feed.js';
import { deltaBody, lineHead, snapshotBody } from './encoded.js';
import { recordSent } from './sent.js';
import type { Session } from './sessions.js';

/** The operator's signature, when the change leads to the version the state holds now. */
function proofOf(state: PolicyFeed, version: string): { proof?: Proof } {
  const proof = version === state.version ? state.proof() : undefined;
  return proof === undefined ? {} : { proof };
}

export function sendSnapshot(s: Session, state: PolicyFeed): void {
  s.io.write(
    lineHead('snapshot', s.id),
    snapshotBody(
      state,
      state.seq,
      state.version,
      () => state.snapshot(),
      () => proofOf(state, state.version),
    ),
  );
  recordSent(s, state.seq, state.version);
}

export function sendChange(s: Session, state: PolicyFeed, change: BundleChange): void {
  if (s.sentVersion !== '' && s.sentVersion !== change.base) {
    // This session is not at the delta's base (it missed one): give it everything.
    sendSnapshot(s, state);
    return;
  }
  s.io.write(
    lineHead('delta', s.id),
    deltaBody(change, state.seq, () => proofOf(state, change.version)),
  );
  recordSent(s, state.seq, change.version);
}

/** One line for every session: the same bytes, encoded once. */
export function heartbeatLine(at: number): string {
  return encodeServerMessage({ type: 'heartbeat', at });
}
