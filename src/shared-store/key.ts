/**
 * What the shared store keeps for one token, pure: the key (a SHA-256 of policy, issuer and jti,
 * so no token identifier is stored or sent in clear, and in `{…}` so Redis Cluster hashes the
 * whole digest: one key, one slot) and how long it lives (the token's exp plus the policy's clock
 * skew, never less than a second). The script does INCR, and PEXPIRE on the first use, in one
 * atomic round trip.
 */
import { createHash } from 'node:crypto';
import type { ReuseKey } from '../revocation/reuse-store.js';

export const KEY_PREFIX = 'tokenwarden:reuse:';

/** Length-prefixed parts: no two different (namespace, policy, issuer, jti) give the same input. */
export function sharedReuseKey(namespace: string, key: ReuseKey): string {
  const parts = [`${namespace}/${key.policy}`, key.issuer, key.jti];
  const h = createHash('sha256');
  for (const p of parts) h.update(`${Buffer.byteLength(p)}:${p}`);
  return `${KEY_PREFIX}{${h.digest('hex')}}`;
}

/**
 * Milliseconds the key lives from now: until `expSeconds + skewSeconds`, at least 1,000 (a token
 * counted at the edge of its validity still gets a count that outlives the request). A token
 * without `exp` (Infinity; only with `requireExp: false`) gives 0: the key never expires.
 */
export function reuseTtlMs(expSeconds: number, skewSeconds: number, nowSeconds: number): number {
  if (!Number.isFinite(expSeconds)) return 0;
  return Math.max(1000, Math.ceil((expSeconds + skewSeconds - nowSeconds) * 1000));
}

/** KEYS[1]: the key; ARGV[1]: its time to live in ms (0: none). Returns the count including this use. */
export const COUNT_SCRIPT = `local n = redis.call('INCR', KEYS[1])
if n == 1 then
  local ttl = tonumber(ARGV[1])
  if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
end
return n`;
