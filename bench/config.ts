/**
 * Benchmark settings: environment → one frozen, validated config. The only place in bench/
 * that reads process.env.
 */
import { availableParallelism } from 'node:os';

export const TARGETS = ['direct', 'passthrough', 'haproxy', 'haproxy-noauth', 'sidecar'] as const;
export type TargetName = (typeof TARGETS)[number];
/** haproxy-noauth (HAProxy forwarding without jwt_verify) is opt-in: it splits HAProxy's cost. */
const DEFAULT_TARGETS: readonly TargetName[] = ['direct', 'passthrough', 'haproxy', 'sidecar'];

export const SCENARIOS = [
  'rs256-pool',
  'es256-pool',
  'rs256-miss',
  'es256-miss',
  'rs256-one',
  'es256-one',
] as const;
export type ScenarioName = (typeof SCENARIOS)[number];
/** The rows of the summary table; the `-one` scenarios stay available through BENCH_SCENARIOS. */
const DEFAULT_SCENARIOS: readonly ScenarioName[] = ['rs256-pool', 'es256-pool', 'rs256-miss', 'es256-miss'];

export function isMissScenario(scenario: ScenarioName): boolean {
  return scenario.endsWith('-miss');
}

export interface BenchConfig {
  quick: boolean;
  /** Measured seconds per run (wrk takes whole seconds). */
  durationSeconds: number;
  /** Unmeasured seconds of the same load right before each measured run. */
  warmupSeconds: number;
  rounds: number;
  connections: number;
  wrkThreads: number;
  /** Distinct tokens in the *-pool scenarios. */
  poolSize: number;
  /** Distinct tokens in the *-miss scenarios: more than the sidecar's verified-token cache holds. */
  missPoolSize: number;
  /** CPU milliseconds the raw crypto.verify measurement spends per algorithm and round. */
  verifyCostMs: number;
  /** CPU the proxy under test is pinned to; wrk and the app share loadCpu. */
  proxyCpu: number;
  loadCpu: number;
  targets: readonly TargetName[];
  scenarios: readonly ScenarioName[];
  /** Optional path for the raw and aggregated results as JSON. */
  jsonOut: string | undefined;
  keepTmp: boolean;
  /** Seconds to wait for a target to answer its first authenticated request. */
  startTimeoutSeconds: number;
  /** Extra node flags for both Node proxies (pass-through and sidecar), e.g. the image's NODE_OPTIONS. */
  nodeFlags: readonly string[];
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name}=${raw}: expected an integer from ${min} to ${max}`);
  }
  return value;
}

function list<T extends string>(
  env: NodeJS.ProcessEnv,
  name: string,
  allowed: readonly T[],
  fallback: readonly T[],
): readonly T[] {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const items = raw.split(',').map((s) => s.trim());
  for (const item of items) {
    if (!(allowed as readonly string[]).includes(item)) {
      throw new Error(`${name}: unknown "${item}"; choose from ${allowed.join(', ')}`);
    }
  }
  return items as T[];
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Readonly<BenchConfig> {
  const quick = env.BENCH_QUICK === '1';
  const cpus = availableParallelism();
  const config: BenchConfig = {
    quick,
    durationSeconds: int(env, 'BENCH_DURATION', quick ? 1 : 5, 1, 600),
    warmupSeconds: int(env, 'BENCH_WARMUP', quick ? 1 : 2, 0, 600),
    rounds: int(env, 'BENCH_ROUNDS', quick ? 1 : 3, 1, 50),
    connections: int(env, 'BENCH_CONNECTIONS', 50, 1, 10_000),
    wrkThreads: int(env, 'BENCH_WRK_THREADS', 1, 1, 64),
    poolSize: int(env, 'BENCH_POOL_SIZE', 1000, 1, 1_000_000),
    missPoolSize: int(env, 'BENCH_MISS_POOL_SIZE', 30_000, 1, 1_000_000),
    verifyCostMs: int(env, 'BENCH_VERIFY_MS', quick ? 200 : 500, 10, 10_000),
    proxyCpu: int(env, 'BENCH_PROXY_CPU', 0, 0, cpus - 1),
    loadCpu: int(env, 'BENCH_LOAD_CPU', 1 % cpus, 0, cpus - 1),
    targets: list(env, 'BENCH_TARGETS', TARGETS, DEFAULT_TARGETS),
    scenarios: list(env, 'BENCH_SCENARIOS', SCENARIOS, DEFAULT_SCENARIOS),
    jsonOut: env.BENCH_JSON || undefined,
    keepTmp: env.BENCH_KEEP_TMP === '1',
    startTimeoutSeconds: int(env, 'BENCH_START_TIMEOUT', 30, 1, 600),
    nodeFlags: (env.BENCH_NODE_FLAGS ?? '').split(/\s+/).filter((f) => f !== ''),
  };
  if (config.wrkThreads > config.connections) {
    throw new Error(
      'BENCH_WRK_THREADS must not exceed BENCH_CONNECTIONS (wrk needs a connection per thread)',
    );
  }
  return Object.freeze(config);
}

/** Seconds the driver waits before reading idle RSS: after start-up, and after the last load. */
export const IDLE_SETTLE_SECONDS = { start: 2, afterLoad: 5 } as const;

/**
 * Upper bound of the measuring part of the run (token signing and start-up come first), used
 * to refuse runs that would outlive the tokens.
 */
export function plannedSeconds(config: BenchConfig): number {
  const perRun = config.durationSeconds + config.warmupSeconds + 1;
  // Per round: two raw-verify measurements (RS256, ES256) plus a Node start-up.
  const verify = (2 * config.verifyCostMs) / 1000 + 1;
  const idle = IDLE_SETTLE_SECONDS.start + IDLE_SETTLE_SECONDS.afterLoad;
  return config.rounds * (config.targets.length * config.scenarios.length * perRun + verify) + idle;
}
