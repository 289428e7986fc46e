import { ApiException } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { buildRevocation, describeRevokeError, revokeRequestProblem } from '../../../src/cli/revoke.js';
import { validateRevocation } from '../../../src/policy/validate.js';
import { signedPartSha256 } from '../../../src/token/hash.js';

const TOKEN = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1c2VyLTQyIn0.c2lnbmF0dXJl';

describe('buildRevocation', () => {
  it('stores the hash of the signed part of a token, never the token', () => {
    const obj = buildRevocation({ namespace: 'shop', match: { token: `${TOKEN}\n` } });
    const text = JSON.stringify(obj);
    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain('c2lnbmF0dXJl');
    expect(obj.spec).toEqual({ tokens: [{ tokenSha256: signedPartSha256(TOKEN) }] });
    expect(obj.metadata).toEqual({ generateName: 'revoke-', namespace: 'shop' });
  });

  it('builds an object the shared validator accepts, every option set', () => {
    const obj = buildRevocation({
      namespace: 'shop',
      match: {
        subject: 'user-42',
        issuer: 'https://auth.example.com/',
        issuedBefore: '2026-11-29T10:00:00Z',
      },
      policyName: 'orders-api',
      reason: 'laptop stolen',
      expiresAt: '2026-12-01T00:00:00Z',
    });
    const named = { ...obj, metadata: { name: 'revoke-x', namespace: 'shop' } };
    const v = validateRevocation(named);
    expect(v.ok).toBe(true);
  });
});

describe('revokeRequestProblem', () => {
  it.each([
    { name: 'a bad namespace', r: { namespace: 'Shop', match: { jti: 'a' } }, want: '--namespace' },
    {
      name: 'a bad --issued-before',
      r: { namespace: 's', match: { subject: 'u', issuedBefore: 'yesterday' } },
      want: '--issued-before',
    },
    {
      name: 'a bad --expires-at',
      r: { namespace: 's', match: { jti: 'a' }, expiresAt: '2026-13-01T00:00:00Z' },
      want: '--expires-at',
    },
    { name: 'an empty token', r: { namespace: 's', match: { token: ' ' } }, want: '--token' },
    { name: 'nothing wrong', r: { namespace: 's', match: { jti: 'a' } }, want: undefined },
  ])('$name', ({ r, want }) => {
    const problem = revokeRequestProblem(r);
    if (want === undefined) expect(problem).toBeUndefined();
    else expect(problem).toContain(want);
  });
});

describe('describeRevokeError', () => {
  const status = (code: number, message: string) =>
    new ApiException(code, 'x', JSON.stringify({ kind: 'Status', message }), {});
  it.each([
    {
      name: 'a missing namespace',
      err: status(404, 'namespaces "nope" not found'),
      want: 'namespace nope does not exist: check --namespace (kubectl get namespaces)',
    },
    {
      name: 'missing CRDs',
      err: status(404, 'the server could not find the requested resource'),
      want: 'the API server at https://k:6443 does not serve tokenrevocations.tokenwarden.dev: install the Tokenwarden CRDs (kubectl apply -f crds/)',
    },
    {
      name: 'no permission',
      err: status(403, 'forbidden'),
      want: 'you may not create tokenrevocations in namespace nope: ask for RBAC `create` on tokenrevocations.tokenwarden.dev',
    },
    {
      name: 'a refused object',
      err: status(422, 'spec.tokens[0].jti: Invalid value'),
      want: 'the API server refused the revocation: spec.tokens[0].jti: Invalid value',
    },
    {
      name: 'an unreachable cluster',
      err: Object.assign(new Error('request failed'), {
        cause: Object.assign(new Error('x'), { code: 'ECONNREFUSED' }),
      }),
      want: 'cannot reach the cluster at https://k:6443: ECONNREFUSED; check the kubeconfig context and that the cluster is up',
    },
  ])('$name', ({ err, want }) => {
    expect(describeRevokeError(err, 'nope', 'https://k:6443')).toBe(want);
  });
});
