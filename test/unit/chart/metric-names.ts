/**
 * The metric names the chart's alerts and dashboard may use: what the code registers (a real
 * sidecar and operator Registry, read back from their exposition text) plus what the in-cluster
 * contract lists for parts still being built (the config stream, the webhook).
 */
import { readFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import { createOperatorMetrics } from '../../../src/metrics/operator.js';
import { createSidecarMetrics } from '../../../src/metrics/sidecar.js';

const ROOT = new URL('../../../', import.meta.url);

export function readRepoFile(path: string): string {
  return readFileSync(new URL(path, ROOT), 'utf8');
}

/** `# TYPE name kind` lines → name → kind. */
async function registered(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const make of [createSidecarMetrics, createOperatorMetrics]) {
    const registry = new Registry();
    make(registry);
    for (const m of (await registry.metrics()).matchAll(/^# TYPE (\S+) (\S+)$/gm)) out.set(m[1]!, m[2]!);
  }
  return out;
}

/** Names in docs/contracts/in-cluster.md (kind unknown: histograms there are named as such). */
function contracted(): Set<string> {
  return new Set(readRepoFile('docs/contracts/in-cluster.md').match(/\btokenwarden_[a-z_]+[a-z]/g) ?? []);
}

export interface KnownMetrics {
  /** True when `series` (as written in PromQL, with _bucket/_sum/_count) is a known metric. */
  has(series: string): boolean;
}

export async function knownMetrics(): Promise<KnownMetrics> {
  const code = await registered();
  const contract = contracted();
  return {
    has(series) {
      if (code.has(series) || contract.has(series)) return true;
      const base = series.replace(/_(bucket|sum|count)$/, '');
      if (base === series) return false;
      const kind = code.get(base);
      if (kind) return kind === 'histogram' || (kind === 'summary' && !series.endsWith('_bucket'));
      // A contract histogram, e.g. tokenwarden_propagation_seconds ("histogram" in its line).
      return contract.has(base);
    },
  };
}

/** Every tokenwarden_* series name a PromQL expression reads. */
export function seriesIn(expr: string): string[] {
  return [...new Set(expr.match(/\btokenwarden_[a-z_]+[a-z]\b/g) ?? [])];
}
