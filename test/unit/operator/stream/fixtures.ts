import type { StreamConfig } from '../../../../src/distribution/protocol.js';
import type { TokenPolicy, TokenRevocation } from '../../../../src/policy/types.js';

export function policy(generation = 1, audience = 'orders-api'): TokenPolicy {
  return {
    apiVersion: 'tokenwarden.dev/v1alpha1',
    kind: 'TokenPolicy',
    metadata: { name: 'orders', namespace: 'shop', generation },
    spec: {
      selector: { matchLabels: { app: 'orders' } },
      targetPort: 8080,
      issuers: [
        { issuer: 'https://idp.example/', audiences: [audience], jwksUri: 'https://idp.example/jwks' },
      ],
    },
  };
}

export function revocation(name: string, jti = name): TokenRevocation {
  return {
    apiVersion: 'tokenwarden.dev/v1alpha1',
    kind: 'TokenRevocation',
    metadata: { name, namespace: 'shop' },
    spec: { tokens: [{ jti }] },
  };
}

export function config(revs: TokenRevocation[], p = policy()): StreamConfig {
  return {
    policy: p,
    keys: { 'https://idp.example/': { keys: [{ kty: 'EC', kid: 'k1' }] } },
    revocations: revs,
  };
}
