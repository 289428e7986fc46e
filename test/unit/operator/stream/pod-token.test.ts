import { describe, expect, it } from 'vitest';
import { buildKeySet } from '../../../../src/keys/jwks.js';
import { checkPodToken, type IssuerTrust } from '../../../../src/operator/stream/pod-token.js';
import { ecKey, jws, rsaKey } from '../../../support/tokens.js';

const ISSUER = 'https://kubernetes.default.svc.cluster.local';
const NOW_MS = 1_800_000_000_000;
const sa = ecKey('sa-1');
const other = ecKey('sa-1');
const rsa = rsaKey('sa-rsa');

async function trustOf(...keys: { jwk: object }[]): Promise<IssuerTrust> {
  const built = await buildKeySet({ keys: keys.map((k) => k.jwk) });
  if (!built.ok) throw new Error(built.error);
  return { issuer: ISSUER, keys: built.set };
}

/** The claims the API server puts in a projected, pod-bound token. */
function podClaims(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    iss: ISSUER,
    aud: ['tokenwarden'],
    sub: 'system:serviceaccount:shop:orders',
    iat: NOW_MS / 1000 - 60,
    nbf: NOW_MS / 1000 - 60,
    exp: NOW_MS / 1000 + 3600,
    'kubernetes.io': {
      namespace: 'shop',
      pod: { name: 'orders-1', uid: 'u-1' },
      serviceaccount: { name: 'orders', uid: 'sa-u' },
    },
    ...extra,
  };
}

const es256 = (payload: unknown, kid = 'sa-1', key = sa.privateKey) =>
  jws({ alg: 'ES256', kid, typ: 'JWT' }, payload, key);

describe('checkPodToken', async () => {
  const trust = await trustOf(sa, rsa);

  it("names the pod and ServiceAccount of a pod-bound token signed by the issuer's key", () => {
    expect(checkPodToken(es256(podClaims()), trust, NOW_MS)).toEqual({
      ok: true,
      pod: { namespace: 'shop', name: 'orders-1', uid: 'u-1' },
      serviceAccount: 'orders',
    });
    const rs = jws({ alg: 'RS256', kid: 'sa-rsa' }, podClaims({ aud: 'tokenwarden' }), rsa.privateKey);
    expect(checkPodToken(rs, trust, NOW_MS)).toMatchObject({ ok: true });
  });

  it.each([
    ['a signature by another key with the same kid', () => es256(podClaims(), 'sa-1', other.privateKey), 401],
    [
      'a payload changed after signing (another pod)',
      () => {
        const [h, , sig] = es256(podClaims()).split('.');
        const forged = es256(
          podClaims({ 'kubernetes.io': { namespace: 'shop', pod: { name: 'x', uid: 'u-x' } } }),
        );
        return `${h}.${forged.split('.')[1]}.${sig}`;
      },
      401,
    ],
    ['another audience', () => es256(podClaims({ aud: ['api'] })), 401],
    ['no exp', () => es256(podClaims({ exp: undefined })), 401],
    ['an exp that has passed', () => es256(podClaims({ exp: NOW_MS / 1000 })), 401],
    ['an nbf beyond the clock skew', () => es256(podClaims({ nbf: NOW_MS / 1000 + 120 })), 401],
    ['alg none', () => `${es256(podClaims()).split('.').slice(0, 2).join('.')}.`, 401],
    ['an HMAC alg', () => jws({ alg: 'HS256', kid: 'sa-1' }, podClaims(), Buffer.alloc(32)), 401],
    ['the RSA kid under ES256', () => es256(podClaims(), 'sa-rsa'), 401],
    ['not a JWT', () => 'opaque-token', 401],
    [
      'no pod claim (a legacy ServiceAccount token)',
      () => es256(podClaims({ 'kubernetes.io': { namespace: 'shop' } })),
      403,
    ],
    ['a subject that is not a ServiceAccount', () => es256(podClaims({ sub: 'alice' })), 403],
    [
      'a namespace claim that disagrees with the subject',
      () => es256(podClaims({ sub: 'system:serviceaccount:other:orders' })),
      403,
    ],
    [
      'a ServiceAccount claim that disagrees with the subject',
      () => es256(podClaims({ sub: 'system:serviceaccount:shop:builder' })),
      403,
    ],
  ])('refuses %s', (_name, token, status) => {
    expect(checkPodToken(token(), trust, NOW_MS)).toMatchObject({ ok: false, status });
  });

  it('leaves to a TokenReview what it cannot decide: another issuer, a key it does not hold', () => {
    expect(checkPodToken(es256(podClaims({ iss: 'https://other.example' })), trust, NOW_MS)).toEqual({
      ok: 'undecided',
      why: 'other_issuer',
    });
    expect(checkPodToken(es256(podClaims(), 'sa-2'), trust, NOW_MS)).toEqual({
      ok: 'undecided',
      why: 'unknown_key',
    });
  });

  it('accepts an nbf within the clock skew', () => {
    expect(checkPodToken(es256(podClaims({ nbf: NOW_MS / 1000 + 30 })), trust, NOW_MS)).toMatchObject({
      ok: true,
    });
  });
});
