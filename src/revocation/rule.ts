/**
 * The one rule for "does this revocation apply to that policy" and "has it expired", asked by
 * the sidecar (set.ts builds what it enforces), the operator's status (the revocation index
 * counts entries) and garbage collection (gc.ts deletes what expired). One answer, one parser:
 * the strict RFC 3339 one (src/policy/time.ts), never `Date.parse`, which rolls 2026-02-31 over
 * to March and refuses a leap second.
 *
 * Pure; `now` passed in.
 */
import { parseRfc3339 } from '../policy/time.js';
import type { TokenRevocation } from '../policy/types.js';

type Revocation = Pick<TokenRevocation, 'metadata' | 'spec'>;

/**
 * Epoch milliseconds of an `expiresAt`; undefined when there is none or it does not parse.
 * An unparsable value cannot pass validation; if one arrives anyway the revocation is treated
 * as never expiring: it keeps refusing and is never collected (fail closed).
 */
export function expiryMs(expiresAt: string | undefined): number | undefined {
  return expiresAt === undefined ? undefined : parseRfc3339(expiresAt);
}

/**
 * Has an expiry instant passed at `now` (both in the same unit)? The instant itself counts as
 * past; undefined (none, or unparsable) never passes.
 */
export function expiryPassed(at: number | undefined, now: number): boolean {
  return at !== undefined && at <= now;
}

/** Past `spec.expiresAt` at `nowMs`; a revocation without one never expires. */
export function isExpired(rev: Pick<TokenRevocation, 'spec'>, nowMs: number): boolean {
  return expiryPassed(expiryMs(rev.spec.expiresAt), nowMs);
}

/**
 * Does `rev` name `policy`? Same namespace (a revocation without one, possible only in a
 * standalone file, applies to the file's policy), and `spec.policyName` absent (every policy
 * of the namespace) or equal. Expiry is asked separately (`isExpired`).
 */
export function appliesTo(rev: Revocation, policy: { name: string; namespace: string }): boolean {
  if (rev.metadata.namespace !== undefined && rev.metadata.namespace !== policy.namespace) return false;
  return rev.spec.policyName === undefined || rev.spec.policyName === policy.name;
}
