/**
 * Benchmark driver (entry point of `npm run bench`, via hack/bench.sh). Starts the app and
 * every target once, reads their idle RSS, then runs interleaved rounds (round → raw verify
 * cost → scenario → target) so that slow drifts of a shared machine spread over all targets,
 * reads idle RSS again after the load, and prints the median of each cell, then the
 * summary and targets (bench/summary.ts).
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { lookupsBetween, readCacheLookups } from './cache-lookups.js';
import { IDLE_SETTLE_SECONDS, isMissScenario, loadConfig, plannedSeconds } from './config.js';
import type { BenchConfig, ScenarioName, TargetName } from './config.js';
import { TOKEN_LIFETIME_SECONDS, writeMaterial } from './material.js';
import type { Material } from './material.js';
import { cpuMicros, rssBytes, sampleRss } from './procfs.js';
import { exited, killAll, logTail, stop } from './processes.js';
import { aggregate, hitRatioText, resultsTable } from './report.js';
import type { RunResult } from './report.js';
import {
  idleTable,
  summaryRows,
  summaryTable,
  targetChecks,
  targetsTable,
  verifyCostText,
} from './summary.js';
import type { IdleRss, VerifyCost } from './summary.js';
import { memoryBreakdownText, readMemoryBreakdown } from './memory-breakdown.js';
import { DESCRIPTIONS, startApp, startTarget } from './targets.js';
import type { Target } from './targets.js';
import { runWrk, socketErrors } from './wrk.js';

const VERIFY_COST_SCRIPT = fileURLToPath(new URL('./verify-cost.js', import.meta.url));

const MiB = 1024 * 1024;

/** First line a tool prints about itself; `wrk -v` prints its version but exits 1. */
function version(command: string, args: string[]): string {
  let out: string;
  try {
    out = execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    out = (error as { stdout?: string }).stdout ?? '';
  }
  return out.split('\n')[0]?.trim() || `${command}: not found`;
}

function machine(): string {
  const model = cpus()[0]?.model ?? 'unknown CPU';
  return [
    `date: ${new Date().toString()}`,
    `machine: ${cpus().length} CPUs (nproc ${version('nproc', [])}), ${model}`,
    `node ${process.version}; ${version('haproxy', ['-v'])}; ${version('wrk', ['-v']).replace(/ Copyright.*/, '')}`,
  ].join('\n');
}

/**
 * Where each (target, scenario) continues its round-robin over the token file. Every wrk run
 * starts where the previous one of the same pair stopped, so a *-miss run never comes back to
 * a token the sidecar saw recently (each fresh wrk would otherwise restart at token 0, which
 * the warm-up has just put in the cache).
 */
class Cursors {
  private readonly next = new Map<string, number>();
  constructor(private readonly inFlight: number) {}
  start(target: TargetName, scenario: ScenarioName): number {
    return this.next.get(`${target}/${scenario}`) ?? 0;
  }
  /** Requests still in flight when wrk stopped were sent but not counted: skip past them too. */
  advance(target: TargetName, scenario: ScenarioName, requests: number, count: number): void {
    const key = `${target}/${scenario}`;
    this.next.set(key, ((this.next.get(key) ?? 0) + requests + this.inFlight) % count);
  }
}

async function measure(
  config: BenchConfig,
  target: Target,
  scenario: ScenarioName,
  round: number,
  material: Material,
  cursors: Cursors,
): Promise<RunResult> {
  const tokenFile = material.tokenFiles[scenario];
  const count = material.tokenCounts[scenario];
  if (tokenFile === undefined || count === undefined) throw new Error(`no token file for ${scenario}`);
  const load = {
    cpu: config.loadCpu,
    port: target.port,
    connections: config.connections,
    threads: config.wrkThreads,
    tokenFile,
  };
  if (config.warmupSeconds > 0) {
    const start = cursors.start(target.name, scenario);
    const warm = await runWrk({ ...load, start, seconds: config.warmupSeconds });
    cursors.advance(target.name, scenario, warm.requests, count);
  }
  const pid = target.measured.pid;
  const admin = target.adminPort;
  const lookupsBefore = admin === undefined ? undefined : await readCacheLookups(admin);
  const cpuBefore = cpuMicros(pid);
  const stopRss = sampleRss(pid, 200);
  const start = cursors.start(target.name, scenario);
  const result = await runWrk({ ...load, start, seconds: config.durationSeconds });
  const cpuAfter = cpuMicros(pid);
  const peakRss = stopRss() ?? Number.NaN;
  cursors.advance(target.name, scenario, result.requests, count);
  const lookups = lookupsBetween(
    lookupsBefore,
    admin === undefined ? undefined : await readCacheLookups(admin),
  );
  return {
    round,
    target: target.name,
    scenario,
    requests: result.requests,
    rps: result.requests / (result.durationUs / 1e6),
    p50Ms: result.p50Us / 1000,
    p99Ms: result.p99Us / 1000,
    cpuUsPerRequest: (cpuAfter - cpuBefore) / Math.max(result.requests, 1),
    peakRssMiB: peakRss / MiB,
    failures: result.errStatus + socketErrors(result),
    cacheHits: lookups?.hit ?? null,
    cacheMisses: lookups?.miss ?? null,
  };
}

/** Raw crypto.verify µs per verification, in a fresh Node pinned to the proxy CPU. */
function verifyCost(config: BenchConfig, material: Material): Promise<Omit<VerifyCost, 'round'>> {
  const args = [
    '-c',
    String(config.proxyCpu),
    process.execPath,
    VERIFY_COST_SCRIPT,
    '--ms',
    String(config.verifyCostMs),
  ];
  for (const alg of ['RS256', 'ES256'] as const) {
    args.push(alg, material.publicKeyPems[alg], material.sampleTokenFiles[alg]);
  }
  const timeout = 30_000 + 4 * config.verifyCostMs;
  return new Promise((resolve, reject) => {
    execFile('taskset', args, { timeout, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
      const line = stdout.split('\n').find((l) => l.startsWith('VERIFY_RESULT '));
      if (error || line === undefined) {
        reject(new Error(`verify-cost failed: ${error?.message ?? 'no result'} ${stderr}`.trim()));
        return;
      }
      resolve(JSON.parse(line.slice('VERIFY_RESULT '.length)) as Omit<VerifyCost, 'round'>);
    });
  });
}

function idleRssMiB(target: Target): number {
  return (rssBytes(target.measured.pid) ?? Number.NaN) / MiB;
}

async function main(): Promise<void> {
  const config = loadConfig();
  const planned = plannedSeconds(config);
  // Every token must outlive the run, or late runs would measure 401s.
  if (planned > TOKEN_LIFETIME_SECONDS - 300) {
    throw new Error(
      `planned run of ${planned} s exceeds the token lifetime; lower BENCH_ROUNDS or BENCH_DURATION`,
    );
  }
  console.log(machine());
  const misses = config.scenarios.some(isMissScenario);
  console.log(
    `plan: ${config.rounds} round(s) × ${config.scenarios.length} scenario(s) (${config.scenarios.join(', ')}) × ` +
      `${config.targets.length} target(s), ` +
      `${config.warmupSeconds} s warm-up + ${config.durationSeconds} s measured, ${config.connections} connections, ` +
      `proxy on CPU ${config.proxyCpu}, wrk and app on CPU ${config.loadCpu}; ` +
      `pool ${config.poolSize} tokens${misses ? `, miss pool ${config.missPoolSize} tokens` : ''}; ` +
      `at most ~${Math.ceil(planned / 60)} min after signing and start-up` +
      (config.nodeFlags.length > 0 ? `; node flags: ${config.nodeFlags.join(' ')}` : ''),
  );

  const dir = mkdtempSync(join(tmpdir(), 'tokenwarden-bench-'));
  const cleanup = (): void => {
    killAll();
    if (!config.keepTmp) rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', cleanup);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => process.exit(130));
  }

  const material = await writeMaterial(
    dir,
    { pool: config.poolSize, miss: config.missPoolSize },
    config.scenarios,
  );
  if (material.missSigning !== undefined) {
    const { tokens, seconds, workers } = material.missSigning;
    console.log(
      `signed ${tokens} miss-pool tokens in ${seconds.toFixed(1)} s ` +
        (workers > 0 ? `(${workers} worker threads)` : '(main thread)'),
    );
  }
  if (config.keepTmp) console.log(`work directory (kept): ${dir}`);
  const timeoutMs = config.startTimeoutSeconds * 1000;
  const app = await startApp(dir, config.loadCpu, timeoutMs);
  const targets: Target[] = [];
  const unavailable = new Map<TargetName, string>();
  for (const name of config.targets) {
    if (name === 'direct') {
      targets.push(app);
      continue;
    }
    const started = await startTarget(name, {
      dir,
      material,
      appPort: app.port,
      proxyCpu: config.proxyCpu,
      timeoutMs,
      nodeFlags: config.nodeFlags,
    });
    if (started.ok) targets.push(started.target);
    else unavailable.set(name, started.status);
    console.log(
      `${DESCRIPTIONS[name]}: ${started.ok ? `ready, pid ${started.target.measured.pid}` : started.status}`,
    );
  }

  // Idle memory before any load: started, checked, then left alone for a moment.
  await sleep(IDLE_SETTLE_SECONDS.start * 1000);
  const idleStart = new Map(targets.map((t) => [t.name, idleRssMiB(t)]));

  const runs: RunResult[] = [];
  const verify: VerifyCost[] = [];
  const cursors = new Cursors(config.connections);
  for (let round = 1; round <= config.rounds; round++) {
    // Once per round, with every proxy idle: what one signature check costs on the proxy CPU.
    try {
      const cost = await verifyCost(config, material);
      verify.push({ round, ...cost });
      console.log(
        `round ${round} raw crypto.verify: RS256 ${cost.RS256.toFixed(1)} µs, ES256 ${cost.ES256.toFixed(1)} µs`,
      );
    } catch (error) {
      console.log(`round ${round} ${error instanceof Error ? error.message : String(error)}`);
    }
    for (const scenario of config.scenarios) {
      for (const target of targets) {
        if (unavailable.has(target.name)) continue;
        let run: RunResult;
        try {
          run = await measure(config, target, scenario, round, material, cursors);
        } catch (error) {
          // A proxy that dies under load is a result, not a reason to lose the other targets.
          if (target === app || !exited(target.measured)) throw error;
          const tail = logTail(target.measured, 5).replace(/\s+/g, ' ').slice(0, 300);
          unavailable.set(
            target.name,
            `failed: exited under load (${scenario}, round ${round}; log: ${tail})`,
          );
          console.log(`${DESCRIPTIONS[target.name]}: ${unavailable.get(target.name)}`);
          continue;
        }
        runs.push(run);
        console.log(
          `round ${round} ${scenario.padEnd(10)} ${target.name.padEnd(14)} ${run.rps.toFixed(0).padStart(7)} req/s ` +
            `p50 ${run.p50Ms.toFixed(2)} ms p99 ${run.p99Ms.toFixed(2)} ms ` +
            `${run.cpuUsPerRequest.toFixed(1)} µs/req ${run.peakRssMiB.toFixed(1)} MiB` +
            (run.cacheHits !== null && run.cacheMisses !== null
              ? ` cache hits ${hitRatioText(run.cacheHits + run.cacheMisses === 0 ? null : run.cacheHits / (run.cacheHits + run.cacheMisses))}`
              : '') +
            (run.failures > 0 ? ` (${run.failures} failed)` : ''),
        );
        // Let sockets in TIME_WAIT and the proxy's idle timers settle between runs.
        await sleep(200);
      }
    }
  }

  // Idle memory after the load: what a pod keeps once traffic stops.
  await sleep(IDLE_SETTLE_SECONDS.afterLoad * 1000);
  const idle: IdleRss[] = targets
    .filter((t) => !unavailable.has(t.name))
    .map((t) => ({
      target: t.name,
      startMiB: idleStart.get(t.name) ?? Number.NaN,
      afterLoadMiB: idleRssMiB(t),
    }));

  const cells = aggregate(runs);
  console.log(
    `\nMedian of ${config.rounds} round(s); CPU µs/req = (utime+stime of the measured process) ÷ completed requests.`,
  );
  console.log('The "app direct" row measures the app process itself; the other rows measure only the proxy.');
  console.log(
    'cache hits: share of verified-token cache lookups that hit during the measured runs (sidecar /metrics; – when not exposed).\n',
  );
  console.log(resultsTable(cells, config.targets, config.scenarios, unavailable));
  console.log(
    `\nIdle RSS: ${IDLE_SETTLE_SECONDS.start} s after start-up and checks, and ${IDLE_SETTLE_SECONDS.afterLoad} s after the last load:\n`,
  );
  console.log(idleTable(idle, (t) => DESCRIPTIONS[t]));
  const sidecar = targets.find((t) => t.name === 'sidecar' && !unavailable.has(t.name));
  if (sidecar?.adminPort !== undefined) {
    console.log(
      `\n${memoryBreakdownText('Sidecar memory after the load', await readMemoryBreakdown(sidecar.adminPort))}`,
    );
  }
  console.log(`\n${verifyCostText(verify)}`);
  const summary = summaryRows(runs, cells, unavailable);
  console.log(
    '\nSummary. Ratios: median of the per-round ratios (min–max). CPU ÷ HAProxy: against HAProxy + ' +
      "jwt_verify with the same algorithm's pool tokens; p99 ÷ HAProxy RS256; CPU ÷ floor: against the Node " +
      'pass-through in the same scenario. ref: the row is its own reference.\n',
  );
  console.log(summaryTable(summary));
  const checks = targetChecks({ runs, cells, idle, verify, unavailable });
  console.log('\nTargets:\n');
  console.log(targetsTable(checks));
  if (config.jsonOut !== undefined) {
    writeFileSync(
      config.jsonOut,
      JSON.stringify(
        {
          config,
          unavailable: Object.fromEntries(unavailable),
          missSigning: material.missSigning ?? null,
          verifyCost: verify,
          idle,
          runs,
          cells,
          summary: summary.map(({ cell, ...rest }) => ({ ...rest, cell: cell ?? null })),
          targets: checks,
        },
        null,
        2,
      ),
    );
    console.log(`\nraw results: ${config.jsonOut}`);
  }
  const processes = new Set([app, ...targets].map((t) => t.measured));
  await Promise.all([...processes].map((p) => stop(p)));
}

main().catch((error: unknown) => {
  console.error(`bench: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
