/**
 * The summary tables, built from the runs of one benchmark: the summary (HAProxy + jwt_verify,
 * the Node floor, Tokenwarden on hits and on misses, with ratios) and the targets with their
 * verdicts. Pure functions of plain data, so that the maths is unit-tested
 * (test/unit/bench/summary.test.ts).
 */
import type { ScenarioName, TargetName } from './config.js';
import { fixed, hitRatioText, median, pairedRatios, ratioText, row, shortStatus } from './report.js';
import type { Cell, RunKey, RunResult } from './report.js';

type Alg = 'RS256' | 'ES256';

/** Raw `crypto.verify` CPU µs per verification, measured once per round. */
export interface VerifyCost {
  round: number;
  RS256: number;
  ES256: number;
}

/** VmRSS (MiB) of a process at rest: after start-up and checks, and after the last load. */
export interface IdleRss {
  target: TargetName;
  startMiB: number;
  afterLoadMiB: number;
}

/** The limits (must) and goals (aim). */
export const LIMITS = {
  peakRssMiB: { limit: 80, goal: 64 },
  idleRssMiB: { limit: 55 },
  p99VsHaproxy: { limit: 2, goal: 1.2 },
  hitCpuVsFloor: { limit: 1.1, goal: 1.05 },
  /** A miss may cost at most a hit plus this many raw signature verifications. */
  missVerifies: 1.5,
} as const;

export interface SummarySpec extends RunKey {
  label: string;
}

export const SUMMARY_ROWS: readonly SummarySpec[] = [
  { label: 'HAProxy + jwt_verify RS256', target: 'haproxy', scenario: 'rs256-pool' },
  { label: 'HAProxy + jwt_verify ES256', target: 'haproxy', scenario: 'es256-pool' },
  { label: 'node:http + undici, no auth (Node floor)', target: 'passthrough', scenario: 'rs256-pool' },
  { label: 'Tokenwarden RS256 (cache hits)', target: 'sidecar', scenario: 'rs256-pool' },
  { label: 'Tokenwarden ES256 (cache hits)', target: 'sidecar', scenario: 'es256-pool' },
  { label: 'Tokenwarden all-miss RS256', target: 'sidecar', scenario: 'rs256-miss' },
  { label: 'Tokenwarden all-miss ES256', target: 'sidecar', scenario: 'es256-miss' },
];

const algOf = (scenario: ScenarioName): Alg => (scenario.startsWith('rs256') ? 'RS256' : 'ES256');
const poolOf = (alg: Alg): ScenarioName => (alg === 'RS256' ? 'rs256-pool' : 'es256-pool');
const same = (a: RunKey, b: RunKey): boolean => a.target === b.target && a.scenario === b.scenario;

export interface SummaryRow extends SummarySpec {
  cell: Cell | undefined;
  /** Per-round ratios; `undefined` when this row is the reference itself. */
  cpuVsHaproxy: number[] | undefined;
  p99VsHaproxyRs256: number[] | undefined;
  cpuVsFloor: number[] | undefined;
  note: string;
}

/** The three references of a row: the same algorithm's HAProxy pool run, HAProxy RS256, the floor. */
export function references(spec: RunKey): { haproxy: RunKey; haproxyRs256: RunKey; floor: RunKey } {
  return {
    haproxy: { target: 'haproxy', scenario: poolOf(algOf(spec.scenario)) },
    haproxyRs256: { target: 'haproxy', scenario: 'rs256-pool' },
    floor: { target: 'passthrough', scenario: spec.scenario },
  };
}

export function summaryRows(
  runs: readonly RunResult[],
  cells: readonly Cell[],
  unavailable: ReadonlyMap<TargetName, string>,
): SummaryRow[] {
  return SUMMARY_ROWS.map((spec) => {
    const cell = cells.find((c) => same(c, spec));
    const refs = references(spec);
    const ratio = (ref: RunKey, metric: (r: RunResult) => number): number[] | undefined =>
      same(ref, spec) ? undefined : pairedRatios(runs, spec, ref, metric);
    const missing = unavailable.get(spec.target);
    const note =
      missing !== undefined
        ? shortStatus(missing)
        : cell === undefined
          ? 'not measured'
          : cell.failures > 0
            ? `${cell.failures} failed responses`
            : '';
    return {
      ...spec,
      cell,
      cpuVsHaproxy: ratio(refs.haproxy, (r) => r.cpuUsPerRequest),
      p99VsHaproxyRs256: ratio(refs.haproxyRs256, (r) => r.p99Ms),
      cpuVsFloor: ratio(refs.floor, (r) => r.cpuUsPerRequest),
      note,
    };
  });
}

export function summaryTable(rows: readonly SummaryRow[]): string {
  const ratio = (r: number[] | undefined): string => (r === undefined ? 'ref' : ratioText(r));
  const lines = [
    row([
      'row',
      'CPU µs/req',
      'p50 ms',
      'p99 ms',
      'RSS peak MiB',
      'cache hits',
      'CPU ÷ HAProxy',
      'p99 ÷ HAProxy RS256',
      'CPU ÷ floor',
      'note',
    ]),
    row(['---', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---']),
  ];
  for (const r of rows) {
    const c = r.cell;
    lines.push(
      row([
        r.label,
        fixed(c?.cpuUsPerRequest ?? Number.NaN, 1),
        fixed(c?.p50Ms ?? Number.NaN, 2),
        fixed(c?.p99Ms ?? Number.NaN, 2),
        fixed(c?.peakRssMiB ?? Number.NaN, 1),
        hitRatioText(c?.cacheHitRatio ?? null),
        ratio(r.cpuVsHaproxy),
        ratio(r.p99VsHaproxyRs256),
        ratio(r.cpuVsFloor),
        r.note,
      ]),
    );
  }
  return lines.join('\n');
}

/** Upper bound of a miss's CPU: a hit plus `LIMITS.missVerifies` raw signature checks. */
export function missBound(hitCpuUs: number, verifyUs: number): number {
  return hitCpuUs + LIMITS.missVerifies * verifyUs;
}

/**
 * PASS when value ≤ limit; says whether the goal (a stricter aim) is met too. A value that
 * could not be measured is `pending`, never a PASS.
 */
export function judge(value: number, limit: number, goal?: number, unit = ''): string {
  // A bound built from an unmeasured part (e.g. no raw verify cost) is no bound either.
  if (!Number.isFinite(value) || !Number.isFinite(limit)) return 'pending (not measured)';
  if (value > limit) return 'FAIL';
  if (goal === undefined) return 'PASS';
  return value <= goal ? `PASS (goal ${goal}${unit} met)` : `PASS (goal ${goal}${unit} not met)`;
}

export interface TargetCheck {
  id: string;
  what: string;
  measured: string;
  limit: string;
  verdict: string;
}

export interface TargetInputs {
  runs: readonly RunResult[];
  cells: readonly Cell[];
  idle: readonly IdleRss[];
  verify: readonly VerifyCost[];
  unavailable: ReadonlyMap<TargetName, string>;
}

/** Worst verdict first: failed responses of the sidecar fail a line whatever its value. */
function withFailures(verdict: string, cells: readonly (Cell | undefined)[]): string {
  const failures = cells.reduce((sum, c) => sum + (c?.failures ?? 0), 0);
  return failures > 0 && !verdict.startsWith('pending') ? `FAIL (${failures} failed responses)` : verdict;
}

export function targetChecks(input: TargetInputs): TargetCheck[] {
  const { runs, cells, idle, verify, unavailable } = input;
  const cell = (target: TargetName, scenario: ScenarioName): Cell | undefined =>
    cells.find((c) => c.target === target && c.scenario === scenario);
  const sidecarDown = unavailable.get('sidecar');
  const pendingIf = (verdict: string): string =>
    sidecarDown === undefined ? verdict : `pending (sidecar ${shortStatus(sidecarDown)})`;
  const checks: TargetCheck[] = [];

  // (a) memory under load: the worst sidecar run of any scenario.
  const sidecarCells = cells.filter((c) => c.target === 'sidecar');
  const worst = sidecarCells.reduce<Cell | undefined>(
    (w, c) => (w === undefined || c.peakRssMiB > w.peakRssMiB ? c : w),
    undefined,
  );
  const { limit: rssLimit, goal: rssGoal } = LIMITS.peakRssMiB;
  checks.push({
    id: 'a',
    what: 'sidecar RSS peak under load',
    measured: worst === undefined ? '–' : `${fixed(worst.peakRssMiB, 1)} MiB (${worst.scenario})`,
    limit: `≤ ${rssLimit} MiB (goal ${rssGoal})`,
    verdict: pendingIf(judge(worst?.peakRssMiB ?? Number.NaN, rssLimit, rssGoal, ' MiB')),
  });

  // (b) memory at rest: the higher of the two idle readings.
  const rest = idle.find((i) => i.target === 'sidecar');
  const idleMax = rest === undefined ? Number.NaN : Math.max(rest.startMiB, rest.afterLoadMiB);
  checks.push({
    id: 'b',
    what: 'sidecar idle RSS (after start / after load)',
    measured: rest === undefined ? '–' : `${fixed(rest.startMiB, 1)} / ${fixed(rest.afterLoadMiB, 1)} MiB`,
    limit: `≤ ${LIMITS.idleRssMiB.limit} MiB`,
    verdict: pendingIf(judge(idleMax, LIMITS.idleRssMiB.limit)),
  });

  // (c) tail latency against HAProxy + jwt_verify, same algorithm, paired by round.
  for (const alg of ['RS256', 'ES256'] as const) {
    const scenario = poolOf(alg);
    const ratios = pairedRatios(
      runs,
      { target: 'sidecar', scenario },
      { target: 'haproxy', scenario },
      (r) => r.p99Ms,
    );
    const { limit, goal } = LIMITS.p99VsHaproxy;
    checks.push({
      id: 'c',
      what: `p99 sidecar ${alg} ÷ HAProxy + jwt_verify ${alg}`,
      measured: ratioText(ratios),
      limit: `≤ ${limit}× (goal ${goal}×)`,
      verdict: pendingIf(withFailures(judge(median(ratios), limit, goal, '×'), [cell('sidecar', scenario)])),
    });
  }

  // (d) CPU of a cache hit against the Node floor, paired by round.
  for (const alg of ['RS256', 'ES256'] as const) {
    const scenario = poolOf(alg);
    const ratios = pairedRatios(
      runs,
      { target: 'sidecar', scenario },
      { target: 'passthrough', scenario },
      (r) => r.cpuUsPerRequest,
    );
    const { limit, goal } = LIMITS.hitCpuVsFloor;
    checks.push({
      id: 'd',
      what: `CPU of a hit ÷ Node floor, ${scenario}`,
      measured: ratioText(ratios),
      limit: `≤ ${limit}× (goal ${goal}×)`,
      verdict: pendingIf(withFailures(judge(median(ratios), limit, goal, '×'), [cell('sidecar', scenario)])),
    });
  }

  // (e) CPU of a miss against a hit plus 1.5 raw verifications of the same algorithm.
  for (const alg of ['RS256', 'ES256'] as const) {
    const hit = cell('sidecar', poolOf(alg));
    const miss = cell('sidecar', alg === 'RS256' ? 'rs256-miss' : 'es256-miss');
    const verifyUs = median(verify.map((v) => v[alg]));
    const hitUs = hit?.cpuUsPerRequest ?? Number.NaN;
    const bound = missBound(hitUs, verifyUs);
    const missUs = miss?.cpuUsPerRequest ?? Number.NaN;
    let verdict = judge(missUs, bound);
    // A "miss" run that hit the cache measures nothing about misses.
    const hits = miss?.cacheHitRatio ?? null;
    if (hits !== null && hits > 0.01 && !verdict.startsWith('pending')) {
      verdict = `invalid (miss run had ${hitRatioText(hits)} cache hits)`;
    }
    checks.push({
      id: 'e',
      what: `CPU of a miss, ${alg}`,
      measured: `${fixed(missUs, 1)} µs`,
      limit: `≤ ${fixed(hitUs, 1)} + ${LIMITS.missVerifies} × ${fixed(verifyUs, 1)} = ${fixed(bound, 1)} µs`,
      verdict: pendingIf(withFailures(verdict, [miss])),
    });
  }
  return checks;
}

export function targetsTable(checks: readonly TargetCheck[]): string {
  return [
    row(['', 'target', 'measured', 'limit', 'verdict']),
    row(['---', '---', '---:', '---:', '---']),
    ...checks.map((c) => row([`(${c.id})`, c.what, c.measured, c.limit, c.verdict])),
  ].join('\n');
}

export function idleTable(idle: readonly IdleRss[], describe: (t: TargetName) => string): string {
  return [
    row(['process', 'idle RSS after start MiB', 'idle RSS after load MiB']),
    row(['---', '---:', '---:']),
    ...idle.map((i) => row([describe(i.target), fixed(i.startMiB, 1), fixed(i.afterLoadMiB, 1)])),
  ].join('\n');
}

export function verifyCostText(verify: readonly VerifyCost[]): string {
  const part = (alg: Alg): string => {
    const values = verify.map((v) => v[alg]);
    const range =
      values.length < 2 ? '' : ` (${fixed(Math.min(...values), 1)}–${fixed(Math.max(...values), 1)})`;
    return `${alg} ${fixed(median(values), 1)} µs${range}`;
  };
  return `raw crypto.verify CPU per verification, median of ${verify.length} round(s): ${part('RS256')}, ${part('ES256')}`;
}
