/**
 * `spec.reuse.sharedStore` compiled: addresses parsed, defaults filled in, and an `identity`
 * (its JSON, built in one fixed key order) so a reload that changed nothing about the store keeps its connection.
 */
import type { CompiledPolicy, ReuseSpec, SharedStoreSpec, StoreAddress } from './types.js';
import { DEFAULT_STORE_TIMEOUT_MS, parseStoreAddress } from './validate-reuse.js';

const MODES = { Standalone: 'standalone', Sentinel: 'sentinel', Cluster: 'cluster' } as const;

function compileShared(s: SharedStoreSpec): NonNullable<CompiledPolicy['reuse']>['shared'] {
  const addresses = s.addresses.map((a) => {
    const parsed = parseStoreAddress(a);
    // validatePolicy refused it already; compile never sees an invalid policy.
    if (parsed === undefined) throw new Error(`spec.reuse.sharedStore.addresses: invalid "${a}"`);
    return Object.freeze(parsed);
  });
  const fields = {
    mode: MODES[s.mode],
    addresses: Object.freeze(addresses) as readonly StoreAddress[],
    sentinelMasterName: s.mode === 'Sentinel' ? s.sentinelMasterName : undefined,
    tls: s.tls === undefined ? undefined : Object.freeze({ serverName: s.tls.serverName }),
    timeoutMs: s.timeoutMilliseconds ?? DEFAULT_STORE_TIMEOUT_MS,
  };
  return Object.freeze({ ...fields, identity: JSON.stringify(fields) });
}

/** undefined when nothing but `maxUses` is set (per-pod counting, refuse when unavailable). */
export function compileReuse(r: ReuseSpec | undefined): CompiledPolicy['reuse'] {
  const s = r?.sharedStore;
  if (s === undefined) return undefined;
  return Object.freeze({
    onUnavailable: s.whenUnavailable === 'CountPerPod' ? 'count_per_pod' : 'refuse',
    shared: compileShared(s),
  });
}
