/**
 * Verification of pushed events, one failure mode per row, with real keys and signatures: the
 * reason first, then what the event asks for when it passes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyStore } from '../../../../src/keys/store.js';
import type { ReceiverKind } from '../../../../src/metrics/operator.js';
import { verifyEvent } from '../../../../src/operator/receivers/verify.js';
import {
  ACCOUNT_DISABLED,
  CLIENT,
  CREDENTIAL_CHANGE,
  FORGER,
  IDP,
  NOW,
  SESSION_REVOKED,
  keysFor,
  logoutClaims,
  logoutToken,
  receiverPolicy,
  setClaims,
  setToken,
  without,
} from './support.js';

const policy = receiverPolicy();
let keys: KeyStore;
beforeAll(async () => {
  keys = await keysFor(policy);
});
afterAll(() => keys.close());

function verify(kind: ReceiverKind, token: string, p = policy, loaded = true) {
  return verifyEvent(token, {
    receiver: kind,
    policy: p,
    keys: () => (loaded ? keys : undefined),
    nowSeconds: NOW,
    maxAgeSeconds: 300,
  });
}

const LOGOUT = 'backchannel_logout' as const;
const SSF = 'ssf' as const;

describe('verifyEvent refuses', () => {
  it.each<{ name: string; kind: ReceiverKind; token: () => string; reason: string }>([
    { name: 'garbage', kind: LOGOUT, token: () => 'not.a.jwt!', reason: 'malformed' },
    {
      name: 'a bad signature',
      kind: LOGOUT,
      token: () => logoutToken(logoutClaims(), undefined, FORGER),
      reason: 'bad_signature',
    },
    {
      name: 'a tampered payload',
      kind: LOGOUT,
      token: () => {
        const [h, , s] = logoutToken().split('.');
        const forged = Buffer.from(JSON.stringify(logoutClaims({ sub: 'bob' }))).toString('base64url');
        return `${h}.${forged}.${s}`;
      },
      reason: 'bad_signature',
    },
    {
      name: 'an algorithm the issuer does not allow',
      kind: LOGOUT,
      token: () => logoutToken(logoutClaims(), { alg: 'ES384' }),
      reason: 'bad_signature',
    },
    {
      name: 'an unknown kid',
      kind: LOGOUT,
      token: () => logoutToken(logoutClaims(), { kid: 'other' }),
      reason: 'unknown_key',
    },
    {
      name: 'a wrong iss',
      kind: LOGOUT,
      token: () => logoutToken(logoutClaims({ iss: 'https://evil.example.com/' })),
      reason: 'unknown_issuer',
    },
    {
      name: 'an issuer without a receiver',
      kind: LOGOUT,
      token: () => logoutToken(logoutClaims({ iss: 'https://plain.example.com/' })),
      reason: 'unknown_issuer',
    },
    {
      name: 'a wrong aud',
      kind: LOGOUT,
      token: () => logoutToken(logoutClaims({ aud: 'someone-else' })),
      reason: 'wrong_audience',
    },
    {
      name: 'the access-token audience instead of the client',
      kind: LOGOUT,
      token: () => logoutToken(logoutClaims({ aud: ['orders-api'] })),
      reason: 'wrong_audience',
    },
    {
      name: 'a stale iat',
      kind: LOGOUT,
      token: () => logoutToken(logoutClaims({ iat: NOW - 400 })),
      reason: 'stale',
    },
    {
      name: 'an iat in the future',
      kind: LOGOUT,
      token: () => logoutToken(logoutClaims({ iat: NOW + 120 })),
      reason: 'stale',
    },
    {
      name: 'no iat',
      kind: LOGOUT,
      token: () => logoutToken(without(logoutClaims(), 'iat')),
      reason: 'stale',
    },
    {
      name: 'an expired token',
      kind: LOGOUT,
      token: () => logoutToken(logoutClaims({ exp: NOW - 60 })),
      reason: 'stale',
    },
    {
      name: 'no jti',
      kind: LOGOUT,
      token: () => logoutToken(without(logoutClaims(), 'jti')),
      reason: 'malformed',
    },
    {
      name: 'no events claim',
      kind: LOGOUT,
      token: () => logoutToken(without(logoutClaims(), 'events')),
      reason: 'missing_events',
    },
    {
      name: 'events without the back-channel logout member',
      kind: LOGOUT,
      token: () => logoutToken(logoutClaims({ events: { 'http://schemas.openid.net/event/other': {} } })),
      reason: 'missing_events',
    },
    {
      name: 'a nonce in a logout token',
      kind: LOGOUT,
      token: () => logoutToken(logoutClaims({ nonce: 'n-1' })),
      reason: 'nonce_present',
    },
    {
      name: 'a logout token with neither sub nor sid',
      kind: LOGOUT,
      token: () => logoutToken(without(logoutClaims(), 'sub', 'sid')),
      reason: 'no_subject',
    },
    {
      name: 'a logout token typed as an access token',
      kind: LOGOUT,
      token: () => logoutToken(logoutClaims(), { typ: 'at+jwt' }),
      reason: 'wrong_type',
    },
    {
      name: 'a SET sent as a logout token',
      kind: LOGOUT,
      token: () => logoutToken(logoutClaims(), { typ: 'secevent+jwt' }),
      reason: 'wrong_type',
    },
    { name: 'an untyped SET', kind: SSF, token: () => setToken(setClaims(), {}), reason: 'wrong_type' },
    { name: 'a logout token sent as a SET', kind: SSF, token: () => logoutToken(), reason: 'wrong_type' },
    {
      name: 'an unknown SET event',
      kind: SSF,
      token: () => setToken(setClaims('https://schemas.openid.net/secevent/risc/event-type/account-enabled')),
      reason: 'unknown_event',
    },
    {
      name: 'a SET with two events',
      kind: SSF,
      token: () =>
        setToken(setClaims(SESSION_REVOKED, { events: { [SESSION_REVOKED]: {}, [ACCOUNT_DISABLED]: {} } })),
      reason: 'missing_events',
    },
    {
      name: 'a SET subject by email (no claim a token carries)',
      kind: SSF,
      token: () =>
        setToken(setClaims(SESSION_REVOKED, { sub_id: { format: 'email', email: 'a@example.com' } })),
      reason: 'no_subject',
    },
    {
      name: 'a SET without a subject',
      kind: SSF,
      token: () => setToken(without(setClaims(), 'sub_id')),
      reason: 'no_subject',
    },
    {
      name: 'a SET for another audience',
      kind: SSF,
      token: () => setToken(setClaims(SESSION_REVOKED, { aud: 'x' })),
      reason: 'wrong_audience',
    },
  ])('$name: $reason', async ({ kind, token, reason }) => {
    const v = await verify(kind, token());
    expect(v.ok).toBe(false);
    if (!v.ok) {
      expect(v.reason).toBe(reason);
      expect(v.description.length).toBeGreaterThan(0);
    }
  });

  it('an event type the issuer is not configured for: unknown_event', async () => {
    const onlyLogout = receiverPolicy(['BackchannelLogout']);
    const store = await keysFor(onlyLogout);
    try {
      const v = await verifyEvent(setToken(), {
        receiver: SSF,
        policy: onlyLogout,
        keys: () => store,
        nowSeconds: NOW,
        maxAgeSeconds: 300,
      });
      expect(v.ok ? 'ok' : v.reason).toBe('unknown_event');
    } finally {
      store.close();
    }
  });

  it('while the keys are not loaded on this replica: not_ready (the provider may retry)', async () => {
    const v = await verify(LOGOUT, logoutToken(), policy, false);
    expect(v.ok ? 'ok' : v.reason).toBe('not_ready');
  });
});

describe('verifyEvent accepts', () => {
  it('a logout token with sid: every token of that session', async () => {
    const v = await verify(LOGOUT, logoutToken());
    expect(v.ok && v.intent).toMatchObject({
      event: 'BackchannelLogout',
      target: { kind: 'sid', sid: 'session-1', issuer: IDP },
    });
  });

  it.each([undefined, 'JWT', 'application/logout+jwt'])('a logout token typed %s', async (typ) => {
    const v = await verify(LOGOUT, logoutToken(logoutClaims(), typ === undefined ? {} : { typ }));
    expect(v.ok).toBe(true);
  });

  it('a logout token with sub only: the subject, cut at its iat', async () => {
    const v = await verify(LOGOUT, logoutToken(without(logoutClaims(), 'sid')));
    expect(v.ok && v.intent).toMatchObject({
      target: { kind: 'subject', subject: 'alice', issuer: IDP },
      cutSeconds: NOW - 5,
    });
  });

  it('an audience list naming the receiver', async () => {
    const v = await verify(LOGOUT, logoutToken(logoutClaims({ aud: ['other', CLIENT] })));
    expect(v.ok).toBe(true);
  });

  it.each([
    [SESSION_REVOKED, 'SessionRevoked'],
    [CREDENTIAL_CHANGE, 'CredentialChange'],
    [ACCOUNT_DISABLED, 'AccountDisabled'],
  ])('a SET %s, iss_sub subject, cut at event_timestamp', async (uri, event) => {
    const v = await verify(SSF, setToken(setClaims(uri)));
    expect(v.ok && v.intent).toMatchObject({
      event,
      target: { kind: 'subject', subject: 'alice', issuer: IDP },
      cutSeconds: NOW - 10,
    });
  });

  it('a session-revoked SET naming the session (complex subject): a sid entry', async () => {
    const sub_id = {
      format: 'complex',
      session: { format: 'opaque', id: 'session-9' },
      user: { format: 'iss_sub', iss: IDP, sub: 'alice' },
    };
    const v = await verify(SSF, setToken(setClaims(SESSION_REVOKED, { sub_id })));
    expect(v.ok && v.intent.target).toEqual({ kind: 'sid', sid: 'session-9', issuer: IDP });
  });

  it('the subject inside the event, as earlier drafts send it', async () => {
    const claims = without(setClaims(), 'sub_id');
    claims.events = { [CREDENTIAL_CHANGE]: { subject: { subject_type: 'iss-sub', iss: IDP, sub: 'bob' } } };
    const v = await verify(SSF, setToken(claims));
    expect(v.ok && v.intent.target).toEqual({ kind: 'subject', subject: 'bob', issuer: IDP });
  });
});
