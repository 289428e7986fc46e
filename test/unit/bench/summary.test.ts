import { describe, expect, it } from 'vitest';
import type { ScenarioName, TargetName } from '../../../bench/config.js';
import { aggregate, hitRatio, hitRatioText, median, pairedRatios, ratioText } from '../../../bench/report.js';
import type { RunResult } from '../../../bench/report.js';
import { judge, missBound, summaryRows, targetChecks } from '../../../bench/summary.js';
import type { IdleRss, TargetCheck, VerifyCost } from '../../../bench/summary.js';

function run(
  target: TargetName,
  scenario: ScenarioName,
  round: number,
  values: Partial<RunResult> = {},
): RunResult {
  return {
    round,
    target,
    scenario,
    requests: 10_000,
    rps: 5000,
    p50Ms: 5,
    p99Ms: 10,
    cpuUsPerRequest: 100,
    peakRssMiB: 50,
    failures: 0,
    cacheHits: null,
    cacheMisses: null,
    ...values,
  };
}

/** Two rounds of every default target × scenario; overrides per `target/scenario`. */
function fullRuns(overrides: Record<string, (round: number) => Partial<RunResult>> = {}): RunResult[] {
  const runs: RunResult[] = [];
  for (const round of [1, 2]) {
    for (const scenario of ['rs256-pool', 'es256-pool', 'rs256-miss', 'es256-miss'] as const) {
      for (const target of ['passthrough', 'haproxy', 'sidecar'] as const) {
        runs.push(run(target, scenario, round, overrides[`${target}/${scenario}`]?.(round) ?? {}));
      }
    }
  }
  return runs;
}

const idle: IdleRss[] = [{ target: 'sidecar', startMiB: 40, afterLoadMiB: 45 }];
const verify: VerifyCost[] = [
  { round: 1, RS256: 40, ES256: 60 },
  { round: 2, RS256: 44, ES256: 64 },
];

function check(checks: TargetCheck[], what: string): TargetCheck {
  const found = checks.find((c) => c.what.includes(what));
  if (found === undefined) throw new Error(`no check "${what}"`);
  return found;
}

describe('report maths', () => {
  it.each([
    { name: 'odd count takes the middle', values: [3, 1, 2], expected: 2 },
    { name: 'even count averages the two middles', values: [4, 1, 3, 2], expected: 2.5 },
    { name: 'empty is NaN', values: [], expected: Number.NaN },
  ])('$name', ({ values, expected }) => {
    expect(median(values)).toEqual(expected);
  });

  it('pairs ratios by round and skips rounds missing either run', () => {
    const runs = [
      run('sidecar', 'rs256-pool', 1, { cpuUsPerRequest: 120 }),
      run('haproxy', 'rs256-pool', 1, { cpuUsPerRequest: 60 }),
      run('sidecar', 'rs256-pool', 2, { cpuUsPerRequest: 90 }),
      run('haproxy', 'rs256-pool', 2, { cpuUsPerRequest: 60 }),
      run('sidecar', 'rs256-pool', 3, { cpuUsPerRequest: 500 }),
    ];
    const ratios = pairedRatios(
      runs,
      { target: 'sidecar', scenario: 'rs256-pool' },
      { target: 'haproxy', scenario: 'rs256-pool' },
      (r) => r.cpuUsPerRequest,
    );
    expect(ratios).toEqual([2, 1.5]);
    expect(ratioText(ratios)).toBe('1.75× (1.50–2.00)');
    expect(ratioText([1.234])).toBe('1.23×');
    expect(ratioText([])).toBe('–');
  });

  it.each([
    { name: 'no lookups read is unknown', hits: null, misses: null, text: '–' },
    { name: 'all hits is 100%', hits: 500, misses: 0, text: '100%' },
    { name: 'all misses is 0%', hits: 0, misses: 500, text: '0%' },
    { name: 'one miss in many is never rounded up to 100%', hits: 99_999, misses: 1, text: '99.9%' },
    { name: 'one hit in many is never rounded down to 0%', hits: 1, misses: 99_999, text: '0.1%' },
    { name: 'in between shows one decimal', hits: 1, misses: 3, text: '25.0%' },
  ])('cache hit ratio: $name', ({ hits, misses, text }) => {
    const runs = [run('sidecar', 'rs256-pool', 1, { cacheHits: hits, cacheMisses: misses })];
    expect(hitRatioText(hitRatio(runs))).toBe(text);
  });

  it('aggregates the hit ratio over rounds as total hits ÷ total lookups', () => {
    const cells = aggregate([
      run('sidecar', 'rs256-miss', 1, { cacheHits: 0, cacheMisses: 300 }),
      run('sidecar', 'rs256-miss', 2, { cacheHits: 100, cacheMisses: 0 }),
    ]);
    expect(cells[0]?.cacheHitRatio).toBe(0.25);
  });
});

describe('summary rows', () => {
  const runs = fullRuns({
    'haproxy/rs256-pool': () => ({ cpuUsPerRequest: 50, p99Ms: 5 }),
    'haproxy/es256-pool': () => ({ cpuUsPerRequest: 80, p99Ms: 8 }),
    'passthrough/es256-miss': () => ({ cpuUsPerRequest: 80 }),
    'sidecar/es256-miss': (round) => ({ cpuUsPerRequest: round === 1 ? 160 : 240 }),
  });
  const rows = summaryRows(runs, aggregate(runs), new Map());
  const byLabel = (label: string) => rows.find((r) => r.label === label)!;

  it('compares a miss row with the same algorithm’s HAProxy pool row and the floor of its own scenario', () => {
    const miss = byLabel('Tokenwarden all-miss ES256');
    expect(miss.cpuVsHaproxy).toEqual([2, 3]);
    expect(miss.cpuVsFloor).toEqual([2, 3]);
    expect(miss.p99VsHaproxyRs256).toEqual([2, 2]);
  });

  it('marks a row that is its own reference instead of dividing it by itself', () => {
    const haproxyRs = byLabel('HAProxy + jwt_verify RS256');
    expect(haproxyRs.cpuVsHaproxy).toBeUndefined();
    expect(haproxyRs.p99VsHaproxyRs256).toBeUndefined();
    expect(haproxyRs.cpuVsFloor).toEqual([0.5, 0.5]);
    expect(byLabel('HAProxy + jwt_verify ES256').p99VsHaproxyRs256).toEqual([1.6, 1.6]);
  });

  it('says why a row has no numbers', () => {
    const down = summaryRows(runs, aggregate(runs), new Map([['sidecar', 'failed: exited under load']]));
    expect(down.find((r) => r.target === 'sidecar')?.note).toBe('failed');
    const partial = runs.filter((r) => r.scenario !== 'rs256-miss');
    const rowsPartial = summaryRows(partial, aggregate(partial), new Map());
    expect(rowsPartial.find((r) => r.label === 'Tokenwarden all-miss RS256')?.note).toBe('not measured');
  });
});

describe('targets', () => {
  it.each([
    {
      name: 'under the goal passes and meets it',
      value: 60,
      limit: 80,
      goal: 64,
      verdict: 'PASS (goal 64 met)',
    },
    {
      name: 'between goal and limit passes, goal not met',
      value: 70,
      limit: 80,
      goal: 64,
      verdict: 'PASS (goal 64 not met)',
    },
    { name: 'at the limit passes', value: 80, limit: 80, goal: undefined, verdict: 'PASS' },
    { name: 'over the limit fails', value: 80.1, limit: 80, goal: 64, verdict: 'FAIL' },
    {
      name: 'unmeasured is pending, never a pass',
      value: Number.NaN,
      limit: 80,
      goal: 64,
      verdict: 'pending (not measured)',
    },
  ])('judge: $name', ({ value, limit, goal, verdict }) => {
    expect(judge(value, limit, goal)).toBe(verdict);
  });

  it('bounds a miss by a hit plus 1.5 raw verifications', () => {
    expect(missBound(100, 40)).toBe(160);
  });

  it('passes a sidecar within every limit', () => {
    const runs = fullRuns({
      'sidecar/rs256-pool': () => ({ cacheHits: 1000, cacheMisses: 0, cpuUsPerRequest: 104, p99Ms: 11 }),
      'sidecar/rs256-miss': () => ({ cacheHits: 0, cacheMisses: 1000, cpuUsPerRequest: 160 }),
    });
    const checks = targetChecks({ runs, cells: aggregate(runs), idle, verify, unavailable: new Map() });
    expect(checks.map((c) => c.id)).toEqual(['a', 'b', 'c', 'c', 'd', 'd', 'e', 'e']);
    expect(check(checks, 'RSS peak').verdict).toBe('PASS (goal 64 MiB met)');
    expect(check(checks, 'idle RSS').measured).toBe('40.0 / 45.0 MiB');
    expect(check(checks, 'p99 sidecar RS256').verdict).toBe('PASS (goal 1.2× met)');
    expect(check(checks, 'hit ÷ Node floor, rs256-pool').verdict).toBe('PASS (goal 1.05× met)');
    // Bound: hit 104 + 1.5 × median(40, 44) = 104 + 63 = 167 µs.
    const miss = check(checks, 'miss, RS256');
    expect(miss.limit).toBe('≤ 104.0 + 1.5 × 42.0 = 167.0 µs');
    expect(miss.verdict).toBe('PASS');
  });

  it('fails each line that is over its limit', () => {
    const runs = fullRuns({
      'sidecar/es256-miss': () => ({ peakRssMiB: 81, cpuUsPerRequest: 200 }),
      'sidecar/rs256-pool': () => ({ p99Ms: 25, cpuUsPerRequest: 115 }),
    });
    const checks = targetChecks({
      runs,
      cells: aggregate(runs),
      idle: [{ target: 'sidecar', startMiB: 50, afterLoadMiB: 56 }],
      verify,
      unavailable: new Map(),
    });
    expect(check(checks, 'RSS peak').measured).toBe('81.0 MiB (es256-miss)');
    expect(check(checks, 'RSS peak').verdict).toBe('FAIL');
    expect(check(checks, 'idle RSS').verdict).toBe('FAIL');
    expect(check(checks, 'p99 sidecar RS256').verdict).toBe('FAIL');
    expect(check(checks, 'p99 sidecar ES256').verdict).toBe('PASS (goal 1.2× met)');
    expect(check(checks, 'hit ÷ Node floor, rs256-pool').verdict).toBe('FAIL');
    // ES256 bound: 100 + 1.5 × 62 = 193 < 200.
    expect(check(checks, 'miss, ES256').verdict).toBe('FAIL');
  });

  it('fails a line whose sidecar runs had failed responses, whatever the value', () => {
    const runs = fullRuns({ 'sidecar/rs256-pool': () => ({ failures: 3 }) });
    const checks = targetChecks({ runs, cells: aggregate(runs), idle, verify, unavailable: new Map() });
    expect(check(checks, 'p99 sidecar RS256').verdict).toBe('FAIL (6 failed responses)');
  });

  it('does not judge a miss run that hit the cache', () => {
    const runs = fullRuns({ 'sidecar/rs256-miss': () => ({ cacheHits: 500, cacheMisses: 500 }) });
    const checks = targetChecks({ runs, cells: aggregate(runs), idle, verify, unavailable: new Map() });
    expect(check(checks, 'miss, RS256').verdict).toBe('invalid (miss run had 50.0% cache hits)');
  });

  it('is pending, not passed, when the sidecar or a reference did not run', () => {
    const runs = fullRuns().filter((r) => r.target !== 'haproxy');
    const checks = targetChecks({ runs, cells: aggregate(runs), idle, verify: [], unavailable: new Map() });
    expect(check(checks, 'p99 sidecar RS256').verdict).toBe('pending (not measured)');
    expect(check(checks, 'miss, ES256').verdict).toBe('pending (not measured)');
    const down = targetChecks({
      runs: [],
      cells: [],
      idle: [],
      verify,
      unavailable: new Map([['sidecar', 'not built']]),
    });
    expect(down.every((c) => c.verdict === 'pending (sidecar not built)')).toBe(true);
  });
});
