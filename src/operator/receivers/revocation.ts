/**
 * The TokenRevocation an event asks for (pure). Its name is derived from the policy, the issuer,
 * the event type and the event's jti, so the same event received twice — by one replica or by
 * two behind a Service — is one object: the second create meets AlreadyExists.
 *
 * Expiry: a policy with a receiver bounds how long its tokens live (validation requires
 * spec.expiry.maxLifetimeSeconds or maxTokenAgeSeconds, and both refuse a token without iat),
 * so a token issued before the event is refused by its own age once `cut + bound + skew` has
 * passed; the revocation is kept exactly that long (from now if the cut lies in the future).
 */
import { createHash } from 'node:crypto';
import {
  API_VERSION,
  type CompiledPolicy,
  type RevocationEntry,
  type TokenRevocationSpec,
} from '../../policy/types.js';
import type { Intent } from './events.js';

export const ORIGIN_LABEL = 'tokenwarden.dev/origin';
export const EVENT_LABEL = 'tokenwarden.dev/event';
export const ISSUER_LABEL = 'tokenwarden.dev/issuer-sha256';
export const ISSUER_ANNOTATION = 'tokenwarden.dev/issuer';
export const JTI_ANNOTATION = 'tokenwarden.dev/event-jti';
export const ORIGIN = 'identity-provider';

/** The label value of each event (lower-case, as label values read best). */
const EVENT_VALUE = {
  BackchannelLogout: 'backchannel-logout',
  SessionRevoked: 'session-revoked',
  CredentialChange: 'credential-change',
  AccountDisabled: 'account-disabled',
} as const;

export interface EventRevocation {
  readonly apiVersion: typeof API_VERSION;
  readonly kind: 'TokenRevocation';
  readonly metadata: {
    readonly name: string;
    readonly namespace: string;
    readonly labels: Record<string, string>;
    readonly annotations: Record<string, string>;
  };
  readonly spec: TokenRevocationSpec;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** RFC 3339 in whole seconds, as the CRD's date-time format and the strict parser want it. */
function rfc3339(seconds: number): string {
  return new Date(Math.ceil(seconds) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Seconds a token of this policy can live at most: the smaller of the two bounds set. */
export function longestLifetimeSeconds(policy: CompiledPolicy): number | undefined {
  const bounds = [policy.expiry.maxLifetimeSeconds, policy.expiry.maxTokenAgeSeconds].filter(
    (b): b is number => b !== undefined,
  );
  return bounds.length === 0 ? undefined : Math.min(...bounds);
}

function revocationName(policy: CompiledPolicy, issuer: string, eventUri: string, jti: string): string {
  const id = sha256([policy.namespace, policy.name, issuer, eventUri, jti].join('\n'));
  return `idp-${id.slice(0, 32)}`;
}

function entryOf(intent: Intent): RevocationEntry {
  const t = intent.target;
  if (t.kind === 'sid') return { sid: t.sid, issuer: t.issuer };
  // +1 s: issuedBefore is exclusive and iat has whole seconds; a token minted in the very second
  // of the event is revoked too (erring towards refusing).
  return { subject: t.subject, issuer: t.issuer, issuedBefore: rfc3339(Math.floor(intent.cutSeconds) + 1) };
}

export function buildRevocation(
  policy: CompiledPolicy,
  event: { readonly issuer: string; readonly jti: string; readonly intent: Intent },
  nowSeconds: number,
): EventRevocation {
  const lifetime = longestLifetimeSeconds(policy);
  if (lifetime === undefined)
    throw new Error('buildRevocation: the policy bounds no token lifetime (validate first)');
  const { intent } = event;
  const from = Math.max(nowSeconds, intent.cutSeconds);
  return {
    apiVersion: API_VERSION,
    kind: 'TokenRevocation',
    metadata: {
      name: revocationName(policy, event.issuer, intent.eventUri, event.jti),
      namespace: policy.namespace,
      labels: {
        'app.kubernetes.io/managed-by': 'tokenwarden',
        [ORIGIN_LABEL]: ORIGIN,
        [EVENT_LABEL]: EVENT_VALUE[intent.event],
        [ISSUER_LABEL]: sha256(event.issuer).slice(0, 16),
      },
      annotations: { [ISSUER_ANNOTATION]: event.issuer, [JTI_ANNOTATION]: event.jti },
    },
    spec: {
      policyName: policy.name,
      reason: `${intent.event} event from ${event.issuer}`.slice(0, 1024),
      expiresAt: rfc3339(from + lifetime + policy.expiry.clockSkewSeconds),
      tokens: [entryOf(intent)],
    },
  };
}
