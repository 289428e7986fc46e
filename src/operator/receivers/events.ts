/**
 * What a verified logout token or Security Event Token asks to revoke: pure functions of its
 * claims and the issuer's receiver settings. The event types and subject formats are those of
 * OpenID Connect Back-Channel Logout 1.0 §2.4, the CAEP and RISC event types of the Shared
 * Signals Framework, and the subject identifiers of RFC 9493.
 *
 *   logout token with `sid`  → every token of that session (a `sid` entry, narrowed by issuer);
 *   logout token, `sub` only → every token of the subject issued before the logout;
 *   SET whose subject names a session (complex subject, `session` opaque id) → a `sid` entry;
 *   SET whose subject is `iss_sub` (alone or as a complex subject's `user`) → a subject entry.
 * Other subject formats (email, phone_number, an opaque user) name nothing a token carries in
 * `sub` or `sid`: the event is refused (`no_subject`) rather than guessed at.
 */
import type { JWTPayload } from 'jose';
import type { ReceiverOutcome } from '../../metrics/operator.js';
import type { CompiledReceiver, ReceiverEvent } from '../../policy/types.js';

export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/** The Shared Signals event types a receiver acts on, by URI. */
export const SSF_EVENT_TYPES: Readonly<Record<string, ReceiverEvent>> = Object.freeze({
  'https://schemas.openid.net/secevent/caep/event-type/session-revoked': 'SessionRevoked',
  'https://schemas.openid.net/secevent/caep/event-type/credential-change': 'CredentialChange',
  'https://schemas.openid.net/secevent/risc/event-type/account-disabled': 'AccountDisabled',
});

export type Target =
  | { readonly kind: 'sid'; readonly sid: string; readonly issuer: string }
  | { readonly kind: 'subject'; readonly subject: string; readonly issuer: string };

export interface Intent {
  readonly event: ReceiverEvent;
  /** The event's key in `events` (part of the revocation's name). */
  readonly eventUri: string;
  readonly target: Target;
  /** Seconds since the epoch: tokens issued before it are revoked (subject entries). */
  readonly cutSeconds: number;
}

export type Refused = { readonly ok: false; readonly reason: ReceiverOutcome; readonly description: string };
export type IntentResult = { readonly ok: true; readonly intent: Intent } | Refused;

const MAX_ID = 256;

export function refuse(reason: ReceiverOutcome, description: string): Refused {
  return { ok: false, reason, description };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function id(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 && v.length <= MAX_ID ? v : undefined;
}

function notConfigured(event: ReceiverEvent): Refused {
  return refuse('unknown_event', `this receiver is not configured for ${event} events`);
}

/** Back-Channel Logout 1.0 §2.4 and §2.6 (the claims after the signature, iss, aud and iat). */
export function logoutIntent(claims: JWTPayload, receiver: CompiledReceiver, iat: number): IntentResult {
  const events = claims.events;
  if (!isObject(events) || !isObject(events[BACKCHANNEL_LOGOUT_EVENT])) {
    return refuse(
      'missing_events',
      `the events claim has no ${BACKCHANNEL_LOGOUT_EVENT} member holding an object`,
    );
  }
  // A nonce would make the token usable as an ID token: the specification forbids it.
  if (claims.nonce !== undefined)
    return refuse('nonce_present', 'a logout token must not contain a nonce claim');
  if (!receiver.events.has('BackchannelLogout')) return notConfigured('BackchannelLogout');
  const iss = claims.iss as string;
  const sid = id(claims.sid);
  const sub = id(claims.sub);
  if (claims.sid !== undefined && sid === undefined)
    return refuse('no_subject', 'the sid claim is not a usable string');
  if (claims.sub !== undefined && sub === undefined)
    return refuse('no_subject', 'the sub claim is not a usable string');
  const target: Target | undefined =
    sid !== undefined
      ? { kind: 'sid', sid, issuer: iss }
      : sub !== undefined
        ? { kind: 'subject', subject: sub, issuer: iss }
        : undefined;
  if (target === undefined)
    return refuse('no_subject', 'a logout token needs a sub claim, a sid claim, or both');
  return {
    ok: true,
    intent: { event: 'BackchannelLogout', eventUri: BACKCHANNEL_LOGOUT_EVENT, target, cutSeconds: iat },
  };
}

/** An RFC 9493 subject identifier as a token claim the sidecar can match, or why not. */
function targetOf(
  subject: Record<string, unknown>,
  setIssuer: string,
  event: ReceiverEvent,
): Target | string {
  const format = subject.format ?? subject.subject_type;
  if (format === 'iss_sub' || format === 'iss-sub') {
    const iss = id(subject.iss);
    const sub = id(subject.sub);
    if (iss === undefined || sub === undefined) return 'an iss_sub subject needs iss and sub strings';
    return { kind: 'subject', subject: sub, issuer: iss };
  }
  if (format === 'complex') {
    const session = subject.session;
    if (event === 'SessionRevoked' && isObject(session) && session.format === 'opaque') {
      const sid = id(session.id);
      if (sid === undefined) return 'the session subject needs an id string';
      return { kind: 'sid', sid, issuer: setIssuer };
    }
    if (isObject(subject.user)) return targetOf(subject.user, setIssuer, event);
    return 'a complex subject needs an opaque session or an iss_sub user';
  }
  return `subject format ${typeof format === 'string' ? JSON.stringify(format.slice(0, 32)) : 'missing'} names no claim a token carries`;
}

/** A SET (RFC 8417) carrying exactly one CAEP or RISC event, as the Shared Signals Framework sends. */
export function setIntent(claims: JWTPayload, receiver: CompiledReceiver, iat: number): IntentResult {
  const events = claims.events;
  if (!isObject(events)) return refuse('missing_events', 'the events claim is missing or not an object');
  const uris = Object.keys(events);
  if (uris.length !== 1)
    return refuse('missing_events', `a SET must carry exactly one event, found ${uris.length}`);
  const uri = uris[0] as string;
  const payload = events[uri];
  if (!isObject(payload)) return refuse('missing_events', 'the event payload is not an object');
  const event = Object.hasOwn(SSF_EVENT_TYPES, uri) ? SSF_EVENT_TYPES[uri] : undefined;
  if (event === undefined)
    return refuse(
      'unknown_event',
      `event type ${JSON.stringify(uri.slice(0, 128))} is not one this receiver acts on`,
    );
  if (!receiver.events.has(event)) return notConfigured(event);
  // The framework's top-level sub_id; earlier drafts put the subject inside the event.
  const subject = isObject(claims.sub_id) ? claims.sub_id : payload.subject;
  if (!isObject(subject))
    return refuse('no_subject', 'the SET names no subject (sub_id or the event subject)');
  const target = targetOf(subject, claims.iss as string, event);
  if (typeof target === 'string') return refuse('no_subject', target);
  const at = payload.event_timestamp;
  const cutSeconds = typeof at === 'number' && Number.isFinite(at) && at > 0 ? at : iat;
  return { ok: true, intent: { event, eventUri: uri, target, cutSeconds } };
}
