/**
 * The admission webhook and the config stream must name the same TokenPolicy for a pod: the
 * webhook injects a sidecar for one policy, the stream then serves that sidecar. Both ask the
 * policy catalog; this property holds them to it over generated policies and pods, including
 * the cases a single policy never shows (several selecting one pod, one without a target port,
 * names that sort differently by locale and by code unit).
 */
import type { ObjectCache, V1Pod } from '@kubernetes/client-node';
import fc from 'fast-check';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { PolicyCatalog } from '../../../src/operator/policy/catalog.js';
import { SharedKeys } from '../../../src/operator/policy/keys.js';
import type { RawObject } from '../../../src/operator/runtime/informers.js';
import { StreamHub } from '../../../src/operator/stream/hub.js';
import { decideAdmission } from '../../../src/operator/webhook/admission.js';
import { policyLookupFromCatalog } from '../../../src/operator/webhook/lookup.js';
import { SEAL_KEY, settings } from './webhook/settings.js';

function cache<T extends { metadata?: { name?: string; namespace?: string } }>(items: T[]): ObjectCache<T> {
  return {
    get: (name, ns) => items.find((o) => o.metadata?.name === name && o.metadata?.namespace === ns),
    list: (ns) => items.filter((o) => ns === undefined || o.metadata?.namespace === ns),
  };
}

const NAMESPACES = ['shop', 'batch'] as const;
const labelsArb = fc.dictionary(fc.constantFrom('app', 'tier'), fc.constantFrom('orders', 'web', ''), {
  maxKeys: 2,
});
const selectorArb = fc.oneof(
  fc.constant(undefined),
  fc.constant({}),
  fc.record({ matchLabels: labelsArb }),
  fc.record({
    matchExpressions: fc.array(
      fc.record({
        key: fc.constantFrom('app', 'tier'),
        operator: fc.constantFrom('In', 'NotIn', 'Exists', 'DoesNotExist'),
        values: fc.array(fc.constantFrom('orders', 'web'), { maxLength: 2 }),
      }),
      { maxLength: 2 },
    ),
  }),
);
const policyArb = fc.record({
  namespace: fc.constantFrom(...NAMESPACES),
  name: fc.constantFrom('orders', 'orders-2', 'orders.v2', 'orders2', 'a', 'z0', '0z', 'web-api'),
  selector: selectorArb,
  // The CRD requires a target port; an object without one must still not split the answers.
  targetPort: fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
});
const podArb = fc.record({ namespace: fc.constantFrom(...NAMESPACES), labels: labelsArb });

function toObject(p: PolicyShape, i: number): RawObject {
  return {
    apiVersion: 'tokenwarden.dev/v1alpha1',
    kind: 'TokenPolicy',
    metadata: { name: p.name, namespace: p.namespace, uid: `p${i}`, generation: 1 },
    spec: {
      ...(p.selector === undefined ? {} : { selector: p.selector }),
      ...(p.targetPort === undefined ? {} : { targetPort: p.targetPort }),
      issuers: [{ issuer: 'https://idp.example/', audiences: ['a'] }],
    },
  };
}
type PolicyShape = {
  namespace: string;
  name: string;
  selector: unknown;
  targetPort: number | undefined;
};

describe('the webhook and the stream select the same policy', () => {
  it('for generated policies and pods', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(policyArb, { selector: (p) => `${p.namespace}/${p.name}`, maxLength: 6 }),
        fc.array(podArb, { minLength: 1, maxLength: 4 }),
        (shapes, podShapes) => {
          const policies = cache(shapes.map((p, i) => toObject(p, i)));
          const pods: V1Pod[] = podShapes.map((p, i) => ({
            metadata: { name: `pod-${i}`, namespace: p.namespace, uid: `u${i}`, labels: p.labels },
            spec: { containers: [{ name: 'app', image: 'app:1' }] },
            status: { phase: 'Running' },
          }));
          const catalog = new PolicyCatalog(policies);
          const hub = new StreamHub({
            catalog,
            pods: cache(pods),
            revocations: cache<RawObject>([]),
            keys: new SharedKeys(),
            log: pino({ level: 'silent' }),
          });
          hub.start();
          const lookupPolicy = policyLookupFromCatalog(catalog, () => true);
          for (const pod of pods) {
            const namespace = pod.metadata!.namespace!;
            const admission = decideAdmission(
              {
                uid: 'r',
                operation: 'CREATE',
                kind: { group: '', version: 'v1', kind: 'Pod' },
                resource: { group: '', version: 'v1', resource: 'pods' },
                namespace,
                object: pod,
              },
              { settings: () => settings, lookupPolicy, sealKey: SEAL_KEY },
            );
            const stream = hub.resolve(
              { namespace, name: pod.metadata!.name!, uid: pod.metadata!.uid! },
              pod.spec?.serviceAccountName ?? 'default',
            );
            const injectedFor =
              admission.policy === undefined ? undefined : `${namespace}/${admission.policy}`;
            expect(stream.ok ? stream.policy : undefined).toBe(injectedFor);
            if (!stream.ok) expect(stream.reason).toBe('no_policy');
          }
          hub.close();
        },
      ),
      { numRuns: 300 },
    );
  });
});
