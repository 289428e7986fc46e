/**
 * A policy with a receiver, its keys in a real KeyStore, and signed logout tokens and SETs
 * (real EC keys and signatures, test/support/tokens.ts).
 */
import { KeyStore } from '../../../../src/keys/store.js';
import { compilePolicy } from '../../../../src/policy/compile.js';
import type { CompiledPolicy, ReceiverEvent, TokenPolicy } from '../../../../src/policy/types.js';
import { BACKCHANNEL_LOGOUT_EVENT } from '../../../../src/operator/receivers/events.js';
import { NOW, ecKey, jws } from '../../../support/tokens.js';

export { NOW };
export const IDP = 'https://idp.example.com/realms/shop';
export const CLIENT = 'orders-client';
export const KEY = ecKey('idp-1');
/** Same kid, another key: a forgery. */
export const FORGER = ecKey('idp-1');
export const SESSION_REVOKED = 'https://schemas.openid.net/secevent/caep/event-type/session-revoked';
export const CREDENTIAL_CHANGE = 'https://schemas.openid.net/secevent/caep/event-type/credential-change';
export const ACCOUNT_DISABLED = 'https://schemas.openid.net/secevent/risc/event-type/account-disabled';

export function receiverPolicy(
  events: ReceiverEvent[] = ['BackchannelLogout', 'SessionRevoked', 'CredentialChange', 'AccountDisabled'],
): CompiledPolicy {
  const p: TokenPolicy = {
    apiVersion: 'tokenwarden.dev/v1alpha1',
    kind: 'TokenPolicy',
    metadata: { name: 'orders', namespace: 'shop', generation: 1 },
    spec: {
      selector: { matchLabels: { app: 'orders' } },
      targetPort: 8080,
      expiry: { maxLifetimeSeconds: 3600, clockSkewSeconds: 30 },
      issuers: [
        {
          issuer: IDP,
          audiences: ['orders-api'],
          jwks: { keys: [KEY.jwk] },
          algorithms: ['ES256'],
          receiver: { audience: CLIENT, events },
        },
        {
          issuer: 'https://plain.example.com/',
          audiences: ['orders-api'],
          jwks: { keys: [KEY.jwk] },
          algorithms: ['ES256'],
        },
      ],
    },
  };
  return compilePolicy(p);
}

export async function keysFor(policy: CompiledPolicy): Promise<KeyStore> {
  const store = new KeyStore();
  await store.sync(policy.issuers.values());
  return store;
}

export function logoutClaims(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    iss: IDP,
    aud: CLIENT,
    iat: NOW - 5,
    jti: 'logout-1',
    sub: 'alice',
    sid: 'session-1',
    events: { [BACKCHANNEL_LOGOUT_EVENT]: {} },
    ...extra,
  };
}

export function logoutToken(
  claims: Record<string, unknown> = logoutClaims(),
  header: Record<string, unknown> = { typ: 'logout+jwt' },
  key = KEY,
): string {
  return jws({ alg: 'ES256', kid: 'idp-1', ...header }, claims, key.privateKey);
}

export function setClaims(
  uri = SESSION_REVOKED,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    iss: IDP,
    aud: CLIENT,
    iat: NOW - 5,
    jti: 'set-1',
    sub_id: { format: 'iss_sub', iss: IDP, sub: 'alice' },
    events: { [uri]: { event_timestamp: NOW - 10 } },
    ...extra,
  };
}

export function setToken(
  claims: Record<string, unknown> = setClaims(),
  header: Record<string, unknown> = { typ: 'secevent+jwt' },
): string {
  return jws({ alg: 'ES256', kid: 'idp-1', ...header }, claims, KEY.privateKey);
}

/** Drops members from a claims object. */
export function without(claims: Record<string, unknown>, ...names: string[]): Record<string, unknown> {
  const out = { ...claims };
  for (const n of names) delete out[n];
  return out;
}
