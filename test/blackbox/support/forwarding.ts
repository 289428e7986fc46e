/**
 * The world of the forwarding files: one sidecar that allows /public/* and forwards the sub and
 * scope claims as headers.
 */
import { expect } from 'vitest';
import { send } from './http.js';
import { policyDoc } from './policy.js';
import { useWorld, type World } from './world.js';

export function forwardingWorld(name: string): World {
  return useWorld({
    name,
    policy: (issuer) =>
      policyDoc(issuer, {
        rules: [{ name: 'public', paths: ['/public/*'], action: 'Allow' }],
        forwardClaims: [
          { claim: 'sub', header: 'X-Auth-Subject' },
          { claim: 'scope', header: 'X-Auth-Scope' },
        ],
      }),
  });
}

/** The sidecar still answers an ordinary request after whatever a test threw at it. */
export async function stillServing(world: World): Promise<void> {
  const res = await send(world.sidecar.proxyUrl, '/orders/still-serving', {
    token: await world.issuer.token(),
  });
  expect(res.status).toBe(200);
}
