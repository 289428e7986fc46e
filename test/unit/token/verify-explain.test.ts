/**
 * `TokenVerifier.explain` (what `tokenwarden check` shows): every failed check of a token, not
 * only the first. Real keys and a real JWKS endpoint (verify-support.ts), `now` fixed.
 */
import { describe, expect, it } from 'vitest';
import { NOW, b64url, claims } from '../../support/tokens.js';
import { RS_ONLY, good, useVerifyRig, withPart } from './verify-support.js';

const r = useVerifyRig();

describe('TokenVerifier.explain', () => {
  it('reports every failed check: signature and claims alike', async () => {
    const forged = withPart(good(r.rsa, 'RS256'), 1, b64url(claims({ aud: 'payments', exp: NOW - 3600 })));
    const got = await r.verifier.explain(forged, r.pol, NOW);
    expect(got.reasons.map((r) => r.reason)).toEqual(['bad_signature', 'wrong_audience', 'expired']);
    expect(got.claims?.sub).toBe('user-42');
  });

  it('reports a disallowed alg and still checks the signature and claims', async () => {
    const got = await r.verifier.explain(good(r.ec, 'ES256', { iss: RS_ONLY, exp: NOW - 3600 }), r.pol, NOW);
    // The RS256-only issuer has no key ec-1: unknown_key, found without giving up at the alg.
    expect(got.reasons.map((r) => r.reason)).toEqual(['alg_not_allowed', 'unknown_key', 'expired']);
  });

  it('reports an unknown issuer without a key lookup', async () => {
    const got = await r.verifier.explain(good(r.rsa, 'RS256', { iss: 'https://evil.example/' }), r.pol, NOW);
    expect(got.reasons.map((r) => r.reason)).toEqual(['wrong_issuer']);
  });

  it('reports a malformed token alone', async () => {
    expect(await r.verifier.explain('a.b', r.pol, NOW)).toEqual({
      reasons: [
        { reason: 'malformed', description: 'the token is not a compact JWS of three dot-separated parts' },
      ],
    });
  });

  it('is empty for a good token', async () => {
    const got = await r.verifier.explain(good(r.rsa, 'RS256'), r.pol, NOW);
    expect(got.reasons).toEqual([]);
  });
});
