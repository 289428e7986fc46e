import type { ObjectCache } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { PolicyCatalog } from '../../../../src/operator/policy/catalog.js';
import type { RawObject } from '../../../../src/operator/runtime/informers.js';

const items: RawObject[] = [];
const policies: ObjectCache<RawObject> = {
  get: (name, ns) => items.find((o) => o.metadata?.name === name && o.metadata?.namespace === ns),
  list: (ns) => items.filter((o) => o.metadata?.namespace === ns),
};

function policy(generation: number, spec: Record<string, unknown>, uid = 'p1'): RawObject {
  return {
    apiVersion: 'tokenwarden.dev/v1alpha1',
    kind: 'TokenPolicy',
    metadata: { name: 'orders', namespace: 'shop', uid, generation },
    spec,
  };
}
const valid = (targetPort: number) => ({
  selector: { matchLabels: { app: 'orders' } },
  targetPort,
  issuers: [{ issuer: 'https://idp.example/', audiences: ['a'], jwksUri: 'https://idp.example/jwks' }],
});

describe('PolicyCatalog.validated', () => {
  it('checks each generation once and keeps the last valid spec through an invalid edit', () => {
    const catalog = new PolicyCatalog(policies);
    const g1 = catalog.validated(policy(1, valid(8080)));
    expect(g1.spec.ok).toBe(true);
    expect(g1.problem).toBe('');
    // Same uid and generation (a status write, a resync): the same answer, not a new check.
    expect(catalog.validated(policy(1, valid(8080)))).toBe(g1);

    const g2 = catalog.validated(policy(2, { ...valid(8080), issuers: [] }));
    expect(g2.spec.ok).toBe(false);
    expect(g2.problem).toMatch(/issuers/);
    expect(g2.lastValid?.spec.targetPort).toBe(8080);

    const g3 = catalog.validated(policy(3, valid(9090)));
    expect(g3.lastValid?.spec.targetPort).toBe(9090);
  });

  it('checks a re-created object (new uid) afresh, and forgets a deleted one', () => {
    const catalog = new PolicyCatalog(policies);
    const first = catalog.validated(policy(1, valid(8080)));
    expect(catalog.validated(policy(1, valid(8081), 'p2'))).not.toBe(first);
    catalog.forget('shop/orders');
    expect(catalog.validated(policy(2, { issuers: [] }, 'p3')).lastValid).toBeUndefined();
  });
});

describe('PolicyCatalog.policyFor', () => {
  it('answers the first selecting policy by name, in the pod namespace only, and names the conflict', () => {
    items.length = 0;
    items.push(
      { ...policy(1, valid(8081)), metadata: { name: 'orders-b', namespace: 'shop' } },
      { ...policy(1, valid(8080)), metadata: { name: 'orders-a', namespace: 'shop' } },
      { ...policy(1, valid(8082)), metadata: { name: 'aaa', namespace: 'other' } },
    );
    const catalog = new PolicyCatalog(policies);
    expect(catalog.policyFor({ namespace: 'shop', labels: { app: 'orders' } })).toMatchObject({
      key: 'shop/orders-a',
      name: 'orders-a',
      targetPort: 8080,
      conflicting: ['orders-a', 'orders-b'],
    });
    expect(catalog.policyFor({ namespace: 'shop', labels: { app: 'web' } })).toBeUndefined();
    expect(catalog.policyFor({ namespace: 'other', labels: { app: 'orders' } })?.conflicting).toEqual([]);
  });
});
