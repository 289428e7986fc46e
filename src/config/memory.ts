/**
 * `--memory-budget`: the memory one sidecar is meant to live in (set it to the container's
 * memory limit; the injected sidecar gets it from the Downward API). Every size the sidecar can
 * choose is derived from it, so a platform team sets one number per pod instead of four:
 *
 *   verified-token cache   budget / 16   (96 MiB → 6 MiB ≈ 6,000 tokens)
 *   reuse (maxUses) store  budget / 8    (96 MiB → 12 MiB ≈ 40,000 tokens)
 *   V8 young generation    one semi-space of budget / 48, rounded down to a power of two,
 *                          1–16 MiB (96 MiB → 2 MiB; V8's own default grows to 16 MiB; at
 *                          1 MiB the scavenger runs ten times as often and costs CPU)
 *
 * What is left (about half) is Node itself, the code, the sockets and the old generation's
 * working set; bench/README.md shows where it goes. `--token-cache-bytes` and
 * `--reuse-store-bytes` still override their share; together they may not exceed the budget.
 */
import { ConfigError } from './listen.js';

const MiB = 1024 * 1024;

export const DEFAULT_MEMORY_BUDGET_BYTES = 96 * MiB;
/** Below this the process itself (≈ 45 MiB idle) and its caches cannot fit. */
export const MIN_MEMORY_BUDGET_BYTES = 64 * MiB;
/** A sidecar is not where a cache of gigabytes belongs; this also bounds typos (`96Gi`). */
export const MAX_MEMORY_BUDGET_BYTES = 16 * 1024 * MiB;

export interface MemoryPlan {
  readonly budgetBytes: number;
  readonly tokenCacheBytes: number;
  readonly reuseStoreBytes: number;
  /** Largest V8 semi-space (the young generation is two of them), MiB, a power of two. */
  readonly semiSpaceMiB: number;
}

const UNITS: Record<string, number> = { '': 1, Ki: 1024, Mi: MiB, Gi: 1024 * MiB, k: 1e3, M: 1e6, G: 1e9 };

/**
 * Bytes from a plain integer or a Kubernetes quantity with a binary or decimal suffix
 * (`100663296`, `96Mi`, `100M`), as `resources.limits.memory` is written.
 */
export function parseQuantity(flag: string, value: string): number {
  const m = /^(\d{1,12})(Ki|Mi|Gi|k|M|G)?$/.exec(value.trim());
  if (!m) {
    throw new ConfigError(`--${flag}: expected bytes or a quantity such as 96Mi or 128M, got "${value}"`);
  }
  return Number(m[1]) * UNITS[m[2] ?? '']!;
}

/** The sizes derived from `budgetBytes`; explicit cache sizes override their share. */
export function planMemory(
  budgetBytes: number,
  overrides: { tokenCacheBytes?: number; reuseStoreBytes?: number } = {},
): MemoryPlan {
  if (budgetBytes < MIN_MEMORY_BUDGET_BYTES || budgetBytes > MAX_MEMORY_BUDGET_BYTES) {
    throw new ConfigError(
      `--memory-budget: ${budgetBytes} bytes is outside ${MIN_MEMORY_BUDGET_BYTES / MiB}Mi–${MAX_MEMORY_BUDGET_BYTES / MiB / 1024}Gi`,
    );
  }
  const tokenCacheBytes = overrides.tokenCacheBytes ?? Math.floor(budgetBytes / 16);
  const reuseStoreBytes = overrides.reuseStoreBytes ?? Math.floor(budgetBytes / 8);
  if (tokenCacheBytes + reuseStoreBytes > budgetBytes / 2) {
    throw new ConfigError(
      `--token-cache-bytes (${tokenCacheBytes}) + --reuse-store-bytes (${reuseStoreBytes}) exceed half of --memory-budget (${budgetBytes}); raise the budget or lower the caches`,
    );
  }
  const semi = budgetBytes / 48 / MiB;
  const semiSpaceMiB = Math.min(16, Math.max(1, 2 ** Math.floor(Math.log2(semi))));
  return Object.freeze({ budgetBytes, tokenCacheBytes, reuseStoreBytes, semiSpaceMiB });
}
