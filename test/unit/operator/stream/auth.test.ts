import { describe, expect, it } from 'vitest';
import { bearerToken, podFromReview } from '../../../../src/operator/stream/auth.js';

const podUser = {
  username: 'system:serviceaccount:shop:orders',
  extra: {
    'authentication.kubernetes.io/pod-name': ['orders-1'],
    'authentication.kubernetes.io/pod-uid': ['u-1'],
  },
};

describe('podFromReview', () => {
  it.each([
    {
      name: 'a pod-bound token for tokenwarden names its pod and namespace',
      status: { authenticated: true, audiences: ['tokenwarden'], user: podUser },
      want: { ok: true, pod: { namespace: 'shop', name: 'orders-1', uid: 'u-1' } },
    },
    {
      name: 'a refused token is token_invalid',
      status: { authenticated: false, error: 'token expired' },
      want: { ok: false, status: 401, reason: 'token_invalid' },
    },
    {
      name: 'a token for another audience is token_invalid',
      status: { authenticated: true, audiences: ['api'], user: podUser },
      want: { ok: false, status: 401, reason: 'token_invalid' },
    },
    {
      name: 'a token without pod claims is not_a_pod_token',
      status: {
        authenticated: true,
        audiences: ['tokenwarden'],
        user: { username: 'system:serviceaccount:shop:orders' },
      },
      want: { ok: false, status: 403, reason: 'not_a_pod_token' },
    },
    {
      name: 'a user that is not a ServiceAccount is not_a_pod_token',
      status: { authenticated: true, audiences: ['tokenwarden'], user: { ...podUser, username: 'alice' } },
      want: { ok: false, status: 403, reason: 'not_a_pod_token' },
    },
  ])('$name', ({ status, want }) => {
    expect(podFromReview({ spec: {}, status })).toMatchObject(want);
  });
});

describe('bearerToken', () => {
  it.each([
    ['Bearer abc.def.ghi', 'abc.def.ghi'],
    ['bearer abc', 'abc'],
    ['Basic abc', undefined],
    ['Bearer ', undefined],
    [undefined, undefined],
  ])('%s → %s', (header, want) => expect(bearerToken(header)).toBe(want));
});
