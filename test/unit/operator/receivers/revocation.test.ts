/** The TokenRevocation an event makes: a name fixed by the event, an expiry after the longest token lifetime. */
import { describe, expect, it } from 'vitest';
import { buildRevocation, longestLifetimeSeconds } from '../../../../src/operator/receivers/revocation.js';
import { validateRevocation } from '../../../../src/policy/validate.js';
import { BACKCHANNEL_LOGOUT_EVENT } from '../../../../src/operator/receivers/events.js';
import { IDP, NOW, receiverPolicy } from './support.js';

const policy = receiverPolicy();
const intent = {
  event: 'BackchannelLogout' as const,
  eventUri: BACKCHANNEL_LOGOUT_EVENT,
  target: { kind: 'subject' as const, subject: 'alice', issuer: IDP },
  cutSeconds: NOW - 5,
};

describe('buildRevocation', () => {
  it('is a valid TokenRevocation for the policy, expiring after lifetime + skew', () => {
    const r = buildRevocation(policy, { issuer: IDP, jti: 'j-1', intent }, NOW);
    expect(validateRevocation(r).ok).toBe(true);
    expect(r.metadata.namespace).toBe('shop');
    expect(r.spec.expiresAt).toBe(new Date((NOW + 3600 + 30) * 1000).toISOString().replace('.000', ''));
    expect(r.spec.tokens[0]?.issuedBefore).toBe(new Date((NOW - 4) * 1000).toISOString().replace('.000', ''));
    expect(r.metadata.labels['tokenwarden.dev/origin']).toBe('identity-provider');
  });

  it('names the same event the same, and another jti, event or issuer differently', () => {
    const a = buildRevocation(policy, { issuer: IDP, jti: 'j-1', intent }, NOW).metadata.name;
    expect(buildRevocation(policy, { issuer: IDP, jti: 'j-1', intent }, NOW + 50).metadata.name).toBe(a);
    expect(buildRevocation(policy, { issuer: IDP, jti: 'j-2', intent }, NOW).metadata.name).not.toBe(a);
    expect(buildRevocation(policy, { issuer: `${IDP}x`, jti: 'j-1', intent }, NOW).metadata.name).not.toBe(a);
    expect(
      buildRevocation(policy, { issuer: IDP, jti: 'j-1', intent: { ...intent, eventUri: 'u' } }, NOW).metadata
        .name,
    ).not.toBe(a);
    expect(a).toMatch(/^idp-[0-9a-f]{32}$/);
  });

  it('takes the smaller of maxLifetimeSeconds and maxTokenAgeSeconds', () => {
    expect(longestLifetimeSeconds({ ...policy, expiry: { ...policy.expiry, maxTokenAgeSeconds: 600 } })).toBe(
      600,
    );
    expect(longestLifetimeSeconds(policy)).toBe(3600);
  });
});
