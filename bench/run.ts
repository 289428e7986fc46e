/**
 * Benchmark driver (entry point of `npm run bench`, via hack/bench.sh). Starts the app and
 * every target once, then runs interleaved rounds (round → scenario → target) so that slow
 * drifts of a shared machine spread over all targets, and prints the median of each cell.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig, plannedSeconds } from './config.js';
import type { BenchConfig, ScenarioName, TargetName } from './config.js';
import { TOKEN_LIFETIME_SECONDS, writeMaterial } from './material.js';
import type { Material } from './material.js';
import { cpuMicros, sampleRss } from './procfs.js';
import { exited, killAll, logTail, stop } from './processes.js';
import { aggregate, ratiosTable, resultsTable } from './report.js';
import type { RunResult } from './report.js';
import { DESCRIPTIONS, startApp, startTarget } from './targets.js';
import type { Target } from './targets.js';
import { runWrk, socketErrors } from './wrk.js';

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

async function measure(
  config: BenchConfig,
  target: Target,
  scenario: ScenarioName,
  round: number,
  material: Material,
): Promise<RunResult> {
  const load = {
    cpu: config.loadCpu,
    port: target.port,
    connections: config.connections,
    threads: config.wrkThreads,
    tokenFile: material.tokenFiles[scenario],
  };
  if (config.warmupSeconds > 0) await runWrk({ ...load, seconds: config.warmupSeconds });
  const pid = target.measured.pid;
  const cpuBefore = cpuMicros(pid);
  const stopRss = sampleRss(pid, 200);
  const result = await runWrk({ ...load, seconds: config.durationSeconds });
  const cpuAfter = cpuMicros(pid);
  const peakRss = stopRss() ?? Number.NaN;
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
  };
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
  console.log(
    `plan: ${config.rounds} round(s) × ${config.scenarios.length} scenario(s) × ${config.targets.length} target(s), ` +
      `${config.warmupSeconds} s warm-up + ${config.durationSeconds} s measured, ${config.connections} connections, ` +
      `proxy on CPU ${config.proxyCpu}, wrk and app on CPU ${config.loadCpu}; at most ~${Math.ceil(planned / 60)} min` +
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

  const material = await writeMaterial(dir, config.poolSize);
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

  const runs: RunResult[] = [];
  for (let round = 1; round <= config.rounds; round++) {
    for (const scenario of config.scenarios) {
      for (const target of targets) {
        if (unavailable.has(target.name)) continue;
        let run: RunResult;
        try {
          run = await measure(config, target, scenario, round, material);
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
            (run.failures > 0 ? ` (${run.failures} failed)` : ''),
        );
        // Let sockets in TIME_WAIT and the proxy's idle timers settle between runs.
        await sleep(200);
      }
    }
  }

  const cells = aggregate(runs);
  console.log(
    `\nMedian of ${config.rounds} round(s); CPU µs/req = (utime+stime of the measured process) ÷ completed requests.`,
  );
  console.log(
    'The "app direct" row measures the app process itself; the other rows measure only the proxy.\n',
  );
  console.log(resultsTable(cells, config.targets, config.scenarios, unavailable));
  console.log(
    '\nSidecar vs HAProxy: median of the per-round ratios (min–max); targets from the performance issue:\n',
  );
  console.log(ratiosTable(runs, cells, config.scenarios, unavailable));
  if (config.jsonOut !== undefined) {
    writeFileSync(
      config.jsonOut,
      JSON.stringify({ config, unavailable: Object.fromEntries(unavailable), runs, cells }, null, 2),
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
