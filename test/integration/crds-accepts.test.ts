/**
 * The CRDs of crds/ on a real kube-apiserver accept good manifests (storing them with their
 * defaults, nothing pruned) and are served as written, with their short names and category.
 */
import { ApiextensionsV1Api } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { readCrds } from './harness/crds.js';
import { freshNamespace } from './harness/namespace.js';
import { kubeRequest } from './harness/raw.js';
import { goodPolicy, goodRevocation, group, useCrdApi, version, type Obj } from './crds-support.js';

describe('TokenPolicy and TokenRevocation CRDs', () => {
  const cluster = useCrdApi();

  describe('accepts', () => {
    it('a full TokenPolicy and fills in the defaults', async () => {
      const ns = await freshNamespace(cluster.kc, 'crd-good');
      const policy = goodPolicy();
      delete policy.spec.mode;
      const stored = await cluster.create(ns, 'tokenpolicies', policy);
      expect(stored.spec.mode).toBe('Enforce');
      expect(stored.spec.rules[1].action).toBe('Authenticate');
      // Stored as sent, nothing pruned (an unknown field would have been dropped silently).
      const { mode: _mode, ...rest } = stored.spec as Obj;
      expect(rest.issuers).toEqual(policy.spec.issuers);
      expect(rest.forwardClaims).toEqual(policy.spec.forwardClaims);
      expect(rest.expiry).toEqual(policy.spec.expiry);
    });

    it('a minimal TokenPolicy', async () => {
      const ns = await freshNamespace(cluster.kc, 'crd-good');
      const stored = await cluster.create(ns, 'tokenpolicies', {
        apiVersion: `${group}/${version}`,
        kind: 'TokenPolicy',
        metadata: { name: 'minimal' },
        spec: {
          selector: {},
          targetPort: 1,
          issuers: [{ issuer: 'https://a.example/', audiences: ['x'], discovery: true }],
        },
      });
      expect(stored.metadata.generation).toBe(1);
    });

    it('a TokenRevocation with jti, tokenSha256 and subject entries', async () => {
      const ns = await freshNamespace(cluster.kc, 'crd-good');
      const revocation = goodRevocation();
      const stored = await cluster.create(ns, 'tokenrevocations', revocation);
      expect(stored.spec).toEqual(revocation.spec);
    });

    it('the CRDs as written in crds/, nothing lost on the way', async () => {
      for (const crd of await readCrds()) {
        const res = await kubeRequest(cluster.kc, {
          path: `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata!.name!}`,
        });
        const served = res.json<{ spec: unknown }>();
        expect(served.spec).toMatchObject(crd.spec);
      }
    });

    it('the short names and the tokenwarden category', async () => {
      const ext = cluster.kc.makeApiClient(ApiextensionsV1Api);
      const tp = await ext.readCustomResourceDefinition({ name: 'tokenpolicies.tokenwarden.dev' });
      const trev = await ext.readCustomResourceDefinition({ name: 'tokenrevocations.tokenwarden.dev' });
      expect(tp.status?.acceptedNames?.shortNames).toEqual(['tp']);
      expect(trev.status?.acceptedNames?.shortNames).toEqual(['trev']);
      expect(tp.status?.acceptedNames?.categories).toEqual(['tokenwarden']);
      expect(trev.status?.acceptedNames?.categories).toEqual(['tokenwarden']);
    });
  });
});
