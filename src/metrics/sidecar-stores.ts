/**
 * The sidecar's bounded stores as metrics: the verified-token cache and the reuse store, their
 * entries and estimated bytes against their caps, and the counts they keep as plain numbers on
 * the request path (src/token/cache.ts), all read at scrape time; plus the cache's entry gauge,
 * which the sidecar sets itself. Registered by createSidecarMetrics (sidecar.ts), in its order.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

export interface StoreSizes {
  cacheEntries: number;
  cacheBytes: number;
  cacheCapacityBytes: number;
  reuseEntries: number;
  reuseBytes: number;
  reuseCapacityBytes: number;
  /** Uses refused because the reuse store was full, since start. */
  reuseRefusedFull: number;
  /** Verified-token cache lookups since start that found a usable entry / did not. */
  cacheHits: number;
  cacheMisses: number;
}

/**
 * The gauges and counters read from `read()` at scrape time. While `read()` gives undefined (no
 * source wired yet), a scrape leaves them as they were.
 */
export function storeGauges(registry: Registry, read: () => StoreSizes | undefined): void {
  const gauge = (name: string, help: string, pick: (s: StoreSizes) => number): void => {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        const s = read();
        if (s !== undefined) this.set(pick(s));
      },
    });
  };
  gauge(
    'tokenwarden_verified_token_cache_bytes',
    'Estimated heap bytes held by the verified-token cache.',
    (s) => s.cacheBytes,
  );
  gauge(
    'tokenwarden_verified_token_cache_capacity_bytes',
    'Byte cap of the verified-token cache (--token-cache-bytes).',
    (s) => s.cacheCapacityBytes,
  );
  gauge('tokenwarden_reuse_store_entries', 'jtis counted by the reuse store.', (s) => s.reuseEntries);
  gauge(
    'tokenwarden_reuse_store_bytes',
    'Estimated heap bytes held by the reuse store.',
    (s) => s.reuseBytes,
  );
  gauge(
    'tokenwarden_reuse_store_capacity_bytes',
    'Byte cap of the reuse store (--reuse-store-bytes); at the cap, reuse-limited tokens are refused.',
    (s) => s.reuseCapacityBytes,
  );
  // Counted as plain numbers on the request path (src/token/cache.ts), read here at scrape.
  new Counter({
    name: 'tokenwarden_verified_token_cache_lookups_total',
    help: 'Verified-token cache lookups by result (hit: no signature check needed; miss: verified now).',
    labelNames: ['result'],
    registers: [registry],
    collect() {
      const s = read();
      if (s === undefined) return;
      this.reset();
      this.inc({ result: 'hit' }, s.cacheHits);
      this.inc({ result: 'miss' }, s.cacheMisses);
    },
  });
  new Counter({
    name: 'tokenwarden_reuse_store_full_total',
    help: 'Tokens refused because the reuse store was full (fail closed: a use is never forgotten).',
    registers: [registry],
    collect() {
      const s = read();
      if (s === undefined) return;
      this.reset();
      this.inc(s.reuseRefusedFull);
    },
  });
}

/** tokenwarden_verified_token_cache_entries, set by the sidecar (not read at scrape time). */
export function verifiedCacheEntries(registry: Registry): Gauge {
  return new Gauge({
    name: 'tokenwarden_verified_token_cache_entries',
    help: 'Entries in the verified-token cache.',
    registers: [registry],
  });
}
