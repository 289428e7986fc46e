/**
 * The CRDs of crds/ on a real kube-apiserver refuse bad manifests with 422 and a message naming
 * the field: one case per rule, then several errors of one manifest at once.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { badPolicies } from './crds-bad-policies.js';
import { badRevocations } from './crds-bad-revocations.js';
import { freshNamespace } from './harness/namespace.js';
import { goodPolicy, goodRevocation, refusal, useCrdApi } from './crds-support.js';

const badCases = [...badPolicies, ...badRevocations];

describe('TokenPolicy and TokenRevocation CRDs', () => {
  const cluster = useCrdApi();

  describe('refuses with 422 naming the field', () => {
    let ns: string;
    beforeAll(async () => {
      ns = await freshNamespace(cluster.kc, 'crd-bad');
    });

    it.each(badCases)('$name ($field)', async ({ kind, mutate, field }) => {
      const obj = kind === 'policy' ? goodPolicy('bad') : goodRevocation('bad');
      mutate(obj.spec);
      const refused = await refusal(
        cluster.create(ns, kind === 'policy' ? 'tokenpolicies' : 'tokenrevocations', obj),
      );
      expect(refused.code).toBe(422);
      expect(refused.message).toContain(field);
    });

    it('a method outside the Gateway API set says to omit methods for every method', async () => {
      const obj = goodPolicy('bad-method');
      obj.spec.rules[0].methods = ['ANY'];
      const refused = await refusal(cluster.create(ns, 'tokenpolicies', obj));
      expect(refused.code).toBe(422);
      expect(refused.message).toContain('omit methods to match every method');
    });

    it('every schema error of a manifest at once, each with its field', async () => {
      const obj = goodPolicy('bad-schema');
      delete obj.spec.targetPort;
      obj.spec.expiry.clockSkewSeconds = 301;
      obj.spec.issuers[0].jwksUri = 'http://example.com/jwks'; // a CEL error: not checked yet
      const refused = await refusal(cluster.create(ns, 'tokenpolicies', obj));
      expect(refused.code).toBe(422);
      expect(refused.fields).toEqual(
        // The method set became a CEL rule (its message says to omit methods), so a
        // lower-case method moved from this schema-error list to the CEL one below.
        expect.arrayContaining(['spec.targetPort', 'spec.expiry.clockSkewSeconds']),
      );
      // The API server runs the CEL rules only on an object that passed the OpenAPI schema, and says so.
      expect(refused.fields).not.toContain('spec.issuers[0].jwksUri');
      expect(refused.message).toContain('some validation rules were not checked');
    });

    it('every CEL error of a manifest at once, each with its field', async () => {
      const obj = goodPolicy('bad-cel');
      obj.spec.issuers[0].jwksUri = 'http://example.com/jwks';
      obj.spec.rules[0].requiredScopes = ['read'];
      obj.spec.forwardClaims[0].header = 'Cookie';
      obj.spec.issuers[2].jwks.keys[0].d = 'c2VjcmV0';
      obj.spec.rules[0].methods = ['get'];
      const refused = await refusal(cluster.create(ns, 'tokenpolicies', obj));
      expect(refused.code).toBe(422);
      expect(refused.fields).toEqual(
        expect.arrayContaining([
          'spec.rules[0].methods[0]',
          'spec.issuers[0].jwksUri',
          'spec.rules[0].requiredScopes',
          'spec.forwardClaims[0].header',
          'spec.issuers[2].jwks.keys[0].d',
        ]),
      );
    });
  });
});
