/**
 * Aggregation (median per target × scenario over the rounds) and the printed report: the
 * results table and the sidecar/HAProxy ratios with their targets.
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
}

/** CPU µs/request ceilings, sidecar ÷ HAProxy, from the performance issue. */
export const CPU_RATIO_TARGETS: Record<'RS256' | 'ES256', number> = { RS256: 1.25, ES256: 0.75 };
export const RSS_LIMIT_MIB = 100;

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
    };
  });
}

const fixed = (n: number, digits: number): string => (Number.isFinite(n) ? n.toFixed(digits) : '–');

/** "failed: long reason (log: …)" → "failed"; "not built" stays. */
function shortStatus(status: string): string {
  return status.split(':')[0]!;
}

function row(cells: readonly string[]): string {
  return `| ${cells.join(' | ')} |`;
}

export function resultsTable(
  cells: readonly Cell[],
  targets: readonly TargetName[],
  scenarios: readonly ScenarioName[],
  unavailable: ReadonlyMap<TargetName, string>,
): string {
  const lines = [
    row(['target', 'scenario', 'req/s', 'p50 ms', 'p99 ms', 'CPU µs/req', 'peak RSS MiB', 'note']),
    row(['---', '---', '---:', '---:', '---:', '---:', '---:', '---']),
  ];
  for (const target of targets) {
    const missing = unavailable.get(target);
    if (missing !== undefined) {
      lines.push(row([DESCRIPTIONS[target], 'all', '–', '–', '–', '–', '–', missing]));
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
          note,
        ]),
      );
    }
  }
  return lines.join('\n');
}

/**
 * Sidecar ÷ HAProxy for one metric, paired by round: the two runs of a pair are adjacent in
 * time, so a slow drift of a shared machine cancels out better than in a ratio of medians.
 */
function pairedRatios(
  runs: readonly RunResult[],
  scenario: ScenarioName,
  metric: (r: RunResult) => number,
): number[] {
  const ratios: number[] = [];
  for (const s of runs) {
    if (s.target !== 'sidecar' || s.scenario !== scenario) continue;
    const h = runs.find((r) => r.target === 'haproxy' && r.scenario === scenario && r.round === s.round);
    if (h !== undefined) ratios.push(metric(s) / metric(h));
  }
  return ratios;
}

function ratioText(ratios: readonly number[]): string {
  const m = `${fixed(median(ratios), 2)}×`;
  return ratios.length < 2 ? m : `${m} (${fixed(Math.min(...ratios), 2)}–${fixed(Math.max(...ratios), 2)})`;
}

export function ratiosTable(
  runs: readonly RunResult[],
  cells: readonly Cell[],
  scenarios: readonly ScenarioName[],
  unavailable: ReadonlyMap<TargetName, string>,
): string {
  const lines = [
    row([
      'scenario',
      'CPU µs/req sidecar ÷ HAProxy (range)',
      'target',
      'p99 sidecar ÷ HAProxy (range)',
      `sidecar peak RSS (< ${RSS_LIMIT_MIB} MiB)`,
      'verdict',
    ]),
    row(['---', '---:', '---:', '---:', '---:', '---']),
  ];
  const missing = (['sidecar', 'haproxy'] as const).find((t) => unavailable.has(t));
  const pending =
    missing === undefined ? 'not measured' : `${missing} ${shortStatus(unavailable.get(missing)!)}`;
  for (const scenario of scenarios) {
    const alg = scenario.startsWith('rs256') ? 'RS256' : 'ES256';
    const limit = CPU_RATIO_TARGETS[alg];
    const sidecar = cells.find((c) => c.target === 'sidecar' && c.scenario === scenario);
    const cpu = pairedRatios(runs, scenario, (r) => r.cpuUsPerRequest);
    const p99 = pairedRatios(runs, scenario, (r) => r.p99Ms);
    if (missing !== undefined || sidecar === undefined || cpu.length === 0) {
      lines.push(row([scenario, '–', `≤ ${limit}×`, '–', '–', `pending (${pending})`]));
      continue;
    }
    const failed = [
      ...(median(cpu) <= limit ? [] : ['CPU']),
      ...(sidecar.peakRssMiB < RSS_LIMIT_MIB ? [] : ['RSS']),
      ...(sidecar.failures > 0 ? ['failed responses'] : []),
    ];
    lines.push(
      row([
        scenario,
        ratioText(cpu),
        `≤ ${limit}×`,
        ratioText(p99),
        `${fixed(sidecar.peakRssMiB, 1)} MiB`,
        failed.length === 0 ? 'PASS' : `FAIL (${failed.join(', ')})`,
      ]),
    );
  }
  return lines.join('\n');
}
