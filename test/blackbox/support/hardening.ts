/**
 * The world of the hardening files: one sidecar with a public and a denied path, the sub claim
 * forwarded, tokens of at most an hour, and short header and body timeouts.
 */
import { metric } from './metrics.js';
import { policyDoc } from './policy.js';
import { useWorld, type World } from './world.js';

export const RULES = [
  { name: 'public', paths: ['/public/*'], action: 'Allow' as const },
  { name: 'admin', paths: ['/admin/*'], action: 'Deny' as const },
];

export function hardeningWorld(name: string): World {
  return useWorld({
    name,
    policy: (issuer) =>
      policyDoc(issuer, {
        rules: RULES,
        forwardClaims: [{ claim: 'sub', header: 'X-Auth-Subject' }],
        expiry: { maxLifetimeSeconds: 3600 },
      }),
    args: ['--headers-timeout-ms', '2000', '--body-idle-timeout-ms', '2000'],
  });
}

/** Requests the world's sidecar refused for `reason`, so far. */
export const refusals = (world: World, reason: string): Promise<number> =>
  metric(world.sidecar.adminUrl, 'tokenwarden_requests_total', { decision: 'deny', reason });
