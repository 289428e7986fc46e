/**
 * The identity-provider receivers under the chart's rules: the operator, running as a
 * ServiceAccount bound to them (rbac-support.ts), creates the TokenRevocation an event asks
 * for; without `create` on tokenrevocations it answers 503 and makes nothing.
 */
import type { V1PolicyRule } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { freshNamespace } from './harness/namespace.js';
import { logoutBody, postToOperator, startLocalIdp } from './receivers-support.js';
import {
  REVOCATIONS,
  createPolicy,
  custom,
  impersonating,
  metricValue,
  policyBody,
  startOperator,
  waitFor,
  type Obj,
} from './operator-support.js';
import { clusterRules, serviceAccountWith, useRbacWorld } from './rbac-support.js';

const w = useRbacWorld();

/**
 * A back-channel logout POSTed to an operator running under `rules`, for a policy whose issuer
 * is a local identity provider with a receiver; returns the answer and the revocations made.
 */
async function logoutUnder(rules: V1PolicyRule[], registry = new Registry()) {
  const idp = await startLocalIdp();
  try {
    const { ns: saNs, user } = await serviceAccountWith(w.admin, rules);
    w.operator = await startOperator(impersonating(w.admin, user), saNs, {}, registry);
    await waitFor('the operator to sync its informers under RBAC', () =>
      Promise.resolve(w.operator!.ready()),
    );
    const ns = await freshNamespace(w.admin, 'rbac-idp');
    const body = policyBody('orders', {
      issuer: idp.issuer,
      jwksUri: idp.jwksUri,
      algorithms: ['ES256'],
      receiver: { audience: 'orders-client', events: ['BackchannelLogout'] },
    });
    body.spec.expiry = { maxLifetimeSeconds: 900 };
    await createPolicy(w.admin, ns, body);
    const logout = logoutBody(await idp.logoutToken({ sub: 'alice' }, 'orders-client'));
    const path = `/v1/receivers/${ns}/orders/backchannel-logout`;
    const { port } = w.operator.servingAddress;
    const caPem = w.operator.ca.caPem();
    // Until this replica has reconciled the policy and loaded its keys, the answer is 503.
    const res = await waitFor('the receiver to act', async () => {
      const r = await postToOperator(port, caPem, path, 'application/x-www-form-urlencoded', logout);
      if (r.status === 404) return undefined; // the policy is not in this replica's cache yet
      const why =
        r.status === 503 ? (JSON.parse(r.body) as { error_description: string }).error_description : '';
      return r.status === 503 && !why.includes('TokenRevocation') ? undefined : r;
    });
    const list = await custom(w.admin).listNamespacedCustomObject({ ...REVOCATIONS, namespace: ns });
    return { res, revocations: list.items as Obj[] };
  } finally {
    await idp.close();
  }
}

describe('operator RBAC for the identity-provider receivers', () => {
  it('creates the TokenRevocation an event asks for under the chart rules', async () => {
    const { res, revocations } = await logoutUnder(clusterRules);
    expect(res.status).toBe(200);
    expect(revocations.length).toBe(1);
  });

  it('without create on tokenrevocations: 503 (the provider may retry), never a 200, nothing made', async () => {
    const without = clusterRules.map((r) =>
      (r.resources ?? []).includes('tokenrevocations') && (r.verbs ?? []).includes('create')
        ? { ...r, verbs: r.verbs.filter((v) => v !== 'create') }
        : r,
    );
    const grantsCreate = without.some(
      (r) => (r.resources ?? []).includes('tokenrevocations') && (r.verbs ?? []).includes('create'),
    );
    expect(grantsCreate).toBe(false);
    const registry = new Registry();
    const { res, revocations } = await logoutUnder(without, registry);
    expect(res.status).toBe(503);
    expect(revocations.length).toBe(0);
    expect(
      await metricValue(registry, 'tokenwarden_operator_receiver_events_total', {
        receiver: 'backchannel_logout',
        outcome: 'write_failed',
      }),
    ).toBeGreaterThan(0);
  });
});
