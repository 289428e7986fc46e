/**
 * The verifier's `typ` check (RFC 8725 §3.11): an issuer with expectedTypes refuses any other
 * kind of token. Real keys (verify-support.ts), `now` fixed.
 */
import { describe, expect, it } from 'vitest';
import type { CompiledPolicy } from '../../../src/policy/types.js';
import { NOW, claims, issuer, jws, policy } from '../../support/tokens.js';
import { RS_ONLY, useVerifyRig } from './verify-support.js';

const r = useVerifyRig();

describe('TokenVerifier with expectedTypes (RFC 8725 §3.11)', () => {
  const typed = (types: string[]): CompiledPolicy =>
    policy([
      {
        ...issuer({ kind: 'inline', keys: [r.rsa.jwk] }, { issuer: RS_ONLY, algorithms: ['RS256'] }),
        expectedTypes: new Set(types),
      },
    ]);
  const token = (header: Record<string, unknown>): string =>
    jws({ alg: 'RS256', kid: r.rsa.kid, ...header }, claims({ iss: RS_ONLY }), r.rsa.privateKey);

  const cases = [
    { name: 'accepts at+jwt', header: { typ: 'at+jwt' }, reason: undefined },
    {
      name: 'accepts application/at+jwt, any case',
      header: { typ: 'Application/AT+JWT' },
      reason: undefined,
    },
    { name: 'refuses an ID token (typ id+jwt)', header: { typ: 'id+jwt' }, reason: 'wrong_type' },
    { name: 'refuses a token without typ', header: {}, reason: 'wrong_type' },
    { name: 'refuses typ JWT', header: { typ: 'JWT' }, reason: 'wrong_type' },
    { name: 'refuses a non-string typ as malformed', header: { typ: ['at+jwt'] }, reason: 'malformed' },
  ];
  it.each(cases)('$name', async ({ header, reason }) => {
    const got = await r.verifier.verify(token(header), typed(['at+jwt']), NOW);
    expect(got.ok ? undefined : got.reason).toBe(reason);
  });

  it('accepts any typ, or none, when expectedTypes is not set', async () => {
    const plain = policy([
      issuer({ kind: 'inline', keys: [r.rsa.jwk] }, { issuer: RS_ONLY, algorithms: ['RS256'] }),
    ]);
    for (const header of [{}, { typ: 'id+jwt' }, { typ: 'JWT' }]) {
      expect((await r.verifier.verify(token(header), plain, NOW)).ok).toBe(true);
    }
  });

  it('is listed by explain', async () => {
    const got = await r.verifier.explain(token({ typ: 'id+jwt' }), typed(['at+jwt']), NOW);
    expect(got.reasons.map((r) => r.reason)).toEqual(['wrong_type']);
  });
});
