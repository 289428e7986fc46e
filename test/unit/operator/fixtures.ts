/** Objects for the operator tests: a valid TokenPolicy as the API server would hand it over. */
export { publicJwk } from '../../support/keys.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Loose = any;

export function policyObject(issuers: Loose[], name = 'orders-api', namespace = 'shop'): Loose {
  return {
    apiVersion: 'tokenwarden.dev/v1alpha1',
    kind: 'TokenPolicy',
    metadata: { name, namespace, generation: 4, resourceVersion: '17', uid: 'u-1', managedFields: [] },
    spec: {
      selector: { matchLabels: { app: 'orders' } },
      targetPort: 8080,
      issuers,
      rules: [{ name: 'health', paths: ['/healthz'], action: 'Allow' }],
    },
    status: { observedGeneration: 3 },
  };
}
