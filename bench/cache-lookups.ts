/**
 * The sidecar's verified-token cache counter, read from its admin `/metrics` around each
 * measured run: the hit ratio of that run proves that the *-pool scenarios are hits and the
 * *-miss scenarios misses. A sidecar without the counter gives `undefined` (shown as `–`).
 */
export const CACHE_LOOKUPS_METRIC = 'tokenwarden_verified_token_cache_lookups_total';

export interface CacheLookups {
  hit: number;
  miss: number;
}

/** Sums the counter's `result="hit"` and `result="miss"` series in Prometheus text format. */
export function parseCacheLookups(text: string): CacheLookups | undefined {
  let found = false;
  const totals: CacheLookups = { hit: 0, miss: 0 };
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${CACHE_LOOKUPS_METRIC}{`)) continue;
    const match = /^[^{]+\{([^}]*)\}\s+(\S+)/.exec(line);
    const result = /(?:^|,)\s*result="(hit|miss)"/.exec(match?.[1] ?? '')?.[1] as
      keyof CacheLookups | undefined;
    const value = Number(match?.[2]);
    if (result === undefined || !Number.isFinite(value)) continue;
    totals[result] += value;
    found = true;
  }
  return found ? totals : undefined;
}

/** Lookups between two readings; undefined when either reading lacks the counter. */
export function lookupsBetween(
  before: CacheLookups | undefined,
  after: CacheLookups | undefined,
): CacheLookups | undefined {
  if (before === undefined || after === undefined) return undefined;
  return { hit: after.hit - before.hit, miss: after.miss - before.miss };
}

export async function readCacheLookups(adminPort: number): Promise<CacheLookups | undefined> {
  try {
    const response = await fetch(`http://127.0.0.1:${adminPort}/metrics`, {
      signal: AbortSignal.timeout(5000),
    });
    const text = await response.text();
    return response.ok ? parseCacheLookups(text) : undefined;
  } catch {
    return undefined;
  }
}
