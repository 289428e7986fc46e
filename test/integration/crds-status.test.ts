/**
 * The CRDs of crds/ on a real kube-apiserver: printer columns render, and the status subresource
 * behaves as a status subresource (written through /status only, validated there too).
 */
import { ApiextensionsV1Api } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { freshNamespace } from './harness/namespace.js';
import {
  getTable,
  goodPolicy,
  goodRevocation,
  group,
  mergePatch,
  refusal,
  useCrdApi,
  version,
  type Obj,
} from './crds-support.js';

describe('TokenPolicy and TokenRevocation CRDs', () => {
  const cluster = useCrdApi();

  describe('printer columns and status subresource', () => {
    it('declares the printer columns', async () => {
      const ext = cluster.kc.makeApiClient(ApiextensionsV1Api);
      const columns = async (name: string): Promise<[string, string][]> => {
        const crd = await ext.readCustomResourceDefinition({ name });
        return (crd.spec.versions[0]?.additionalPrinterColumns ?? [])
          .filter((c) => !c.priority)
          .map((c) => [c.name, c.jsonPath]);
      };
      expect(await columns('tokenpolicies.tokenwarden.dev')).toEqual([
        ['Mode', '.spec.mode'],
        ['Ready', '.status.conditions[?(@.type=="Ready")].status'],
        ['Matched', '.status.matchedPods'],
        ['Synced', '.status.syncedSidecars'],
        ['Age', '.metadata.creationTimestamp'],
      ]);
      expect(await columns('tokenrevocations.tokenwarden.dev')).toEqual([
        ['Policy', '.spec.policyName'],
        ['Entries', '.status.entries'],
        ['Expires', '.spec.expiresAt'],
        ['Acked', '.status.acknowledgedSidecars'],
        ['Age', '.metadata.creationTimestamp'],
      ]);
    });

    it('a TokenPolicy status is written through /status only, without bumping the generation', async () => {
      const ns = await freshNamespace(cluster.kc, 'crd-status');
      const name = 'orders-api';
      const created = await cluster.create(ns, 'tokenpolicies', goodPolicy(name));
      const status = {
        observedGeneration: 1,
        conditions: [
          {
            type: 'Ready',
            status: 'True',
            reason: 'Compiled',
            message: 'policy compiled, 6 issuers',
            lastTransitionTime: '2026-01-01T00:00:00Z',
            observedGeneration: 1,
          },
        ],
        matchedPods: 4,
        syncedSidecars: 3,
        revocations: 2,
        unprotectedPods: 1,
      };
      const patched = (await cluster.api.patchNamespacedCustomObjectStatus(
        { group, version, namespace: ns, plural: 'tokenpolicies', name, body: { status } },
        mergePatch,
      )) as Obj;
      expect(patched.status).toEqual(status);
      expect(patched.metadata.generation).toBe(1);

      // Through the main resource, status is ignored and a spec change bumps the generation.
      const replaced = (await cluster.api.replaceNamespacedCustomObject({
        group,
        version,
        namespace: ns,
        plural: 'tokenpolicies',
        name,
        body: { ...patched, spec: { ...created.spec, mode: 'Audit' }, status: { matchedPods: 99 } },
      })) as Obj;
      expect(replaced.status).toEqual(status);
      expect(replaced.metadata.generation).toBe(2);

      const table = await getTable(cluster.kc, `/apis/${group}/${version}/namespaces/${ns}/tokenpolicies`);
      expect(table.columns).toEqual([
        'Name',
        'Mode',
        'Ready',
        'Matched',
        'Synced',
        'Unprotected',
        'Reason',
        'Port',
        'Age',
      ]);
      expect(table.rows[0]?.slice(0, 8)).toEqual([name, 'Audit', 'True', 4, 3, 1, 'Compiled', 8080]);

      const bad = await refusal(
        cluster.api.patchNamespacedCustomObjectStatus(
          {
            group,
            version,
            namespace: ns,
            plural: 'tokenpolicies',
            name,
            body: { status: { matchedPods: -1, conditions: [{ ...status.conditions[0], status: 'Maybe' }] } },
          },
          mergePatch,
        ),
      );
      expect(bad.code).toBe(422);
      expect(bad.message).toContain('status.matchedPods');
      expect(bad.message).toContain('status.conditions[0].status');
    });

    it('a TokenRevocation shows its entry count from status', async () => {
      const ns = await freshNamespace(cluster.kc, 'crd-status');
      await cluster.create(ns, 'tokenrevocations', goodRevocation('leaked'));
      await cluster.api.patchNamespacedCustomObjectStatus(
        {
          group,
          version,
          namespace: ns,
          plural: 'tokenrevocations',
          name: 'leaked',
          body: { status: { observedGeneration: 1, entries: 4 } },
        },
        mergePatch,
      );
      const table = await getTable(cluster.kc, `/apis/${group}/${version}/namespaces/${ns}/tokenrevocations`);
      expect(table.columns).toEqual([
        'Name',
        'Policy',
        'Entries',
        'Expires',
        'Acked',
        'Reason',
        'Propagation',
        'Age',
      ]);
      const row = table.rows[0] ?? [];
      expect([...row.slice(0, 4), row[5]]).toEqual([
        'leaked',
        'orders-api',
        4,
        '2026-12-01T00:00:00Z',
        'token printed in CI logs',
      ]);
    });
  });
});
