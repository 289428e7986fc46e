/**
 * What goes down one session's stream: a snapshot, a delta (or a snapshot instead when the
 * session is not at the delta's base), a heartbeat. The body of each is serialised once per
 * version and shared by every session (encoded.ts); only the head naming the session is per
 * session. Each send records what the session was given, so an ack can be judged against it.
 *
 * The operator's proof of a version carries its certificate chain (about 1.2 KB of a 2 KB
 * delta). A session that asked for compact proofs (protocol.ts `PROOFS_HEADER`) is sent the
 * chain once, in full, and from then on proofs naming it by hash, until the certificate
 * changes: then the next proof goes out in full again.
 */
import { chainIdOf, compactOf, type Proof } from '../../distribution/attestation.js';
import { encodeServerMessage } from '../../distribution/protocol.js';
import type { BundleChange, PolicyFeed } from './policy-feed.js';
import { deltaBody, lineHead, snapshotBody } from './encoded.js';
import { recordSent } from './sent.js';
import type { Session } from './sessions.js';

/** The operator's signature, when the change leads to the version the state holds now. */
function proofOf(state: PolicyFeed, version: string): Proof | undefined {
  return version === state.version ? state.proof() : undefined;
}

/** The proof fields of a body and the key of that spelling in the body caches. */
interface Spelled {
  readonly spelling: string;
  readonly fields: () => object;
}

/**
 * How `proof` goes to `s`: compact when it asked and was already sent this chain, else in full
 * (which records the chain as sent).
 */
function spell(s: Session, proof: Proof | undefined): Spelled {
  if (proof === undefined) return { spelling: '', fields: () => ({}) };
  const id = chainIdOf(proof.chain);
  if (s.compactProofs && s.chainSent === id)
    return { spelling: `compact:${id}`, fields: () => ({ proof: compactOf(proof) }) };
  s.chainSent = id;
  return { spelling: `full:${id}`, fields: () => ({ proof }) };
}

export function sendSnapshot(s: Session, state: PolicyFeed): void {
  // A snapshot starts (or restarts) a session: always the full chain.
  s.chainSent = '';
  const { spelling, fields } = spell(s, proofOf(state, state.version));
  s.io.write(
    lineHead('snapshot', s.id),
    snapshotBody(state, state.seq, state.version, () => state.snapshot(), spelling, fields),
  );
  recordSent(s, state.seq, state.version);
}

export function sendChange(s: Session, state: PolicyFeed, change: BundleChange): void {
  if (s.sentVersion !== '' && s.sentVersion !== change.base) {
    // This session is not at the delta's base (it missed one): give it everything.
    sendSnapshot(s, state);
    return;
  }
  const { spelling, fields } = spell(s, proofOf(state, change.version));
  s.io.write(lineHead('delta', s.id), deltaBody(change, state.seq, spelling, fields));
  recordSent(s, state.seq, change.version);
}

/** One line for every session: the same bytes, encoded once. */
export function heartbeatLine(at: number): string {
  return encodeServerMessage({ type: 'heartbeat', at });
}
