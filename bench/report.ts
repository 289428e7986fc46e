/**
 * Aggregation (median per target × scenario over the rounds), per-round paired ratios and the
 * per-target results table. Pure: bench/summary.ts builds the summary tables on top of it.
 */
import type { ScenarioName, TargetName } from './config.js';
import { DESCRIPTIONS } from './targets.js';

export interface RunResult {
  round: number;
  target: TargetName;
  scenario: ScenarioName;
  requests: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  cpuUsPerRequest: number;
  peakRssMiB: number;
  /** Non-2xx responses plus socket errors: any makes the run suspect. */
  failures: number;
  /** Verified-token cache lookups during the measured run (sidecar only; null: not exposed). */
  cacheHits: number | null;
  cacheMisses: number | null;
}

export interface Cell {
  target: TargetName;
  scenario: ScenarioName;
  runs: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  cpuUsPerRequest: number;
  /** Highest peak over the rounds: a memory ceiling is about the worst case. */
  peakRssMiB: number;
  failures: number;
  /** Hits ÷ lookups over all the rounds' measured runs; null when not measured. */
  cacheHitRatio: number | null;
}

/** Where a ratio's numerator or denominator comes from. */
export interface RunKey {
  target: TargetName;
  scenario: ScenarioName;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function aggregate(runs: readonly RunResult[]): Cell[] {
  const groups = new Map<string, RunResult[]>();
  for (const run of runs) {
    const key = `${run.target}\u0000${run.scenario}`;
    groups.set(key, [...(groups.get(key) ?? []), run]);
  }
  return [...groups.values()].map((group) => {
    const first = group[0]!;
    const pick = (f: (r: RunResult) => number): number => median(group.map(f));
    return {
      target: first.target,
      scenario: first.scenario,
      runs: group.length,
      rps: pick((r) => r.rps),
      p50Ms: pick((r) => r.p50Ms),
      p99Ms: pick((r) => r.p99Ms),
      cpuUsPerRequest: pick((r) => r.cpuUsPerRequest),
      peakRssMiB: Math.max(...group.map((r) => r.peakRssMiB)),
      failures: group.reduce((sum, r) => sum + r.failures, 0),
      cacheHitRatio: hitRatio(group),
    };
  });
}

/** Total hits ÷ total lookups of the runs that read the counter; null if none did. */
export function hitRatio(runs: readonly RunResult[]): number | null {
  let hits = 0;
  let lookups = 0;
  for (const r of runs) {
    if (r.cacheHits === null || r.cacheMisses === null) continue;
    hits += r.cacheHits;
    lookups += r.cacheHits + r.cacheMisses;
  }
  return lookups === 0 ? null : hits / lookups;
}

/** `100%` and `0%` only when exactly so; anything in between shows one decimal, never rounded to an end. */
export function hitRatioText(ratio: number | null): string {
  if (ratio === null || !Number.isFinite(ratio)) return '–';
  if (ratio >= 1) return '100%';
  if (ratio <= 0) return '0%';
  const percent = Math.min(99.9, Math.max(0.1, Math.round(ratio * 1000) / 10));
  return `${percent.toFixed(1)}%`;
}

export const fixed = (n: number, digits: number): string => (Number.isFinite(n) ? n.toFixed(digits) : '–');

/** "failed: long reason (log: …)" → "failed"; "not built" stays. */
export function shortStatus(status: string): string {
  return status.split(':')[0]!;
}

export function row(cells: readonly string[]): string {
  return `| ${cells.join(' | ')} |`;
}

/**
 * metric(a) ÷ metric(b), paired by round: in the interleaved order the two runs of a pair are
 * close in time, so a slow drift of a shared machine cancels out better than in a ratio of
 * medians. Rounds missing either run are skipped.
 */
export function pairedRatios(
  runs: readonly RunResult[],
  a: RunKey,
  b: RunKey,
  metric: (r: RunResult) => number,
): number[] {
  const ratios: number[] = [];
  for (const x of runs) {
    if (x.target !== a.target || x.scenario !== a.scenario) continue;
    const y = runs.find((r) => r.target === b.target && r.scenario === b.scenario && r.round === x.round);
    if (y !== undefined) ratios.push(metric(x) / metric(y));
  }
  return ratios;
}

/** "1.23×", or "1.23× (1.10–1.31)" over two or more rounds; "–" with none. */
export function ratioText(ratios: readonly number[]): string {
  if (ratios.length === 0) return '–';
  const m = `${fixed(median(ratios), 2)}×`;
  return ratios.length < 2 ? m : `${m} (${fixed(Math.min(...ratios), 2)}–${fixed(Math.max(...ratios), 2)})`;
}

export function resultsTable(
  cells: readonly Cell[],
  targets: readonly TargetName[],
  scenarios: readonly ScenarioName[],
  unavailable: ReadonlyMap<TargetName, string>,
): string {
  const lines = [
    row([
      'target',
      'scenario',
      'req/s',
      'p50 ms',
      'p99 ms',
      'CPU µs/req',
      'peak RSS MiB',
      'cache hits',
      'note',
    ]),
    row(['---', '---', '---:', '---:', '---:', '---:', '---:', '---:', '---']),
  ];
  for (const target of targets) {
    const missing = unavailable.get(target);
    if (missing !== undefined) {
      lines.push(row([DESCRIPTIONS[target], 'all', '–', '–', '–', '–', '–', '–', missing]));
      continue;
    }
    for (const scenario of scenarios) {
      const c = cells.find((x) => x.target === target && x.scenario === scenario);
      if (c === undefined) continue;
      const note = c.failures > 0 ? `${c.failures} failed responses` : '';
      lines.push(
        row([
          DESCRIPTIONS[target],
          scenario,
          fixed(c.rps, 0),
          fixed(c.p50Ms, 2),
          fixed(c.p99Ms, 2),
          fixed(c.cpuUsPerRequest, 1),
          fixed(c.peakRssMiB, 1),
          hitRatioText(c.cacheHitRatio),
          note,
        ]),
      );
    }
  }
  return lines.join('\n');
}
