/**
 * Benchmark settings: environment → one frozen, validated config. The only place in bench/
 * that reads process.env.
 */
import { availableParallelism } from 'node:os';

export const TARGETS = ['direct', 'passthrough', 'haproxy', 'haproxy-noauth', 'sidecar'] as const;
export type TargetName = (typeof TARGETS)[number];
/** haproxy-noauth (HAProxy forwarding without jwt_verify) is opt-in: it splits HAProxy's cost. */
const DEFAULT_TARGETS: readonly TargetName[] = ['direct', 'passthrough', 'haproxy', 'sidecar'];

export const SCENARIOS = ['rs256-pool', 'rs256-one', 'es256-pool', 'es256-one'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

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
    proxyCpu: int(env, 'BENCH_PROXY_CPU', 0, 0, cpus - 1),
    loadCpu: int(env, 'BENCH_LOAD_CPU', 1 % cpus, 0, cpus - 1),
    targets: list(env, 'BENCH_TARGETS', TARGETS, DEFAULT_TARGETS),
    scenarios: list(env, 'BENCH_SCENARIOS', SCENARIOS, SCENARIOS),
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

/** Upper bound of the whole run, used to refuse runs that would outlive the tokens. */
export function plannedSeconds(config: BenchConfig): number {
  const perRun = config.durationSeconds + config.warmupSeconds + 1;
  return config.rounds * config.targets.length * config.scenarios.length * perRun;
}
