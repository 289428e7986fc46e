/**
 * `tokenwarden sidecar` flags → one frozen, typed config. The only place the sidecar reads
 * its command line and environment. The flags, their defaults and bounds: sidecar-flags.ts.
 */
import { defaultString, integerFlag, parseFlags } from './flags.js';
import { ConfigError, parseListen, type ListenAddress } from './listen.js';
import {
  DEFAULT_MEMORY_BUDGET_BYTES,
  MAX_MEMORY_BUDGET_BYTES,
  MIN_MEMORY_BUDGET_BYTES,
  parseQuantity,
  planMemory,
  type MemoryPlan,
} from './memory.js';
import { BODY_RATE_WINDOW_MS, SIDECAR_FLAGS, type SidecarFlag } from './sidecar-flags.js';
import { parseSource, type ConfigSource } from './sidecar-source.js';

export { SIDECAR_FLAGS, SIDECAR_USAGE } from './sidecar-flags.js';
export type { ConfigSource, ControlPlaneConfig } from './sidecar-source.js';

export interface SidecarConfig {
  readonly source: ConfigSource;
  readonly upstream: URL;
  readonly listen: ListenAddress;
  readonly adminListen: ListenAddress;
  readonly logLevel: string;
  readonly cacheSize: number;
  /** Sizes derived from --memory-budget (src/config/memory.ts). */
  readonly memory: MemoryPlan;
  readonly tokenCacheBytes: number;
  readonly reuseStoreBytes: number;
  readonly maxHeaderBytes: number;
  readonly maxHeaders: number;
  readonly headersTimeoutMs: number;
  readonly bodyBufferBytes: number;
  readonly bodyIdleTimeoutMs: number;
  readonly bodyMinBytesPerSecond: number;
  /** `bodyMinBytesPerSecond` is kept over every window of this length (not a flag). */
  readonly bodyRateWindowMs: number;
  readonly maxConnectionsPerClient: number;
  readonly maxConnections: number;
  readonly responseStallTimeoutMs: number;
  readonly upstreamQueueTimeoutMs: number;
}

const LOG_LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']);

export type ParsedSidecar = { help: true } | { help: false; config: SidecarConfig };

export function parseSidecarArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): ParsedSidecar {
  const { help, values } = parseFlags('sidecar', SIDECAR_FLAGS, argv);
  if (help) return { help: true };
  if (values.policy !== undefined && values['control-plane'] !== undefined) {
    throw new ConfigError(
      '--policy and --control-plane are mutually exclusive: a sidecar enforces a policy file (standalone) or what the operator streams (in-cluster), not both',
    );
  }
  const source = parseSource(values, env);
  if (!values.upstream)
    throw new ConfigError('--upstream URL is required (the app, e.g. http://127.0.0.1:8080)');
  let upstream: URL;
  try {
    upstream = new URL(values.upstream);
  } catch {
    throw new ConfigError(
      `--upstream: "${values.upstream}" is not a URL; expected e.g. http://127.0.0.1:8080`,
    );
  }
  if (upstream.protocol !== 'http:' || upstream.pathname !== '/' || upstream.search || upstream.username) {
    throw new ConfigError(`--upstream: expected http://HOST:PORT with no path, got "${values.upstream}"`);
  }
  const str = (name: 'listen' | 'admin-listen' | 'log-level'): string => {
    const f = SIDECAR_FLAGS[name];
    return values[name] ?? env[f.env] ?? f.default;
  };
  const int = (name: IntFlag): number =>
    integerFlag(name, SIDECAR_FLAGS[name], values[name] ?? defaultString(SIDECAR_FLAGS[name]));
  const optionalInt = (name: 'token-cache-bytes' | 'reuse-store-bytes'): number | undefined => {
    const v = values[name];
    return v === undefined ? undefined : integerFlag(name, SIDECAR_FLAGS[name], v);
  };
  const logLevel = str('log-level');
  if (!LOG_LEVELS.has(logLevel))
    throw new ConfigError(`--log-level: expected one of ${[...LOG_LEVELS].join('|')}`);
  const memory = planMemory(budgetBytes(values['memory-budget'], env.TOKENWARDEN_MEMORY_BUDGET), {
    tokenCacheBytes: optionalInt('token-cache-bytes'),
    reuseStoreBytes: optionalInt('reuse-store-bytes'),
  });
  return {
    help: false,
    config: Object.freeze({
      source,
      upstream,
      listen: parseListen('listen', str('listen')),
      adminListen: parseListen('admin-listen', str('admin-listen')),
      logLevel,
      cacheSize: int('cache-size'),
      memory,
      tokenCacheBytes: memory.tokenCacheBytes,
      reuseStoreBytes: memory.reuseStoreBytes,
      maxHeaderBytes: int('max-header-bytes'),
      maxHeaders: int('max-headers'),
      headersTimeoutMs: int('headers-timeout-ms'),
      bodyBufferBytes: int('body-buffer-bytes'),
      bodyIdleTimeoutMs: int('body-idle-timeout-ms'),
      bodyMinBytesPerSecond: int('body-min-rate'),
      bodyRateWindowMs: BODY_RATE_WINDOW_MS,
      maxConnectionsPerClient: int('max-connections-per-client'),
      maxConnections: int('max-connections'),
      responseStallTimeoutMs: int('response-stall-timeout-ms'),
      upstreamQueueTimeoutMs: int('upstream-queue-timeout-ms'),
    }),
  };
}

/** The flags whose value is an integer with a default. */
type IntFlag = {
  [K in SidecarFlag]: (typeof SIDECAR_FLAGS)[K] extends { default: number } ? K : never;
}[SidecarFlag];

/**
 * The flag is taken as written (out of range: an error). The environment variable is what the
 * injected sidecar gets from the Downward API: its container's memory limit in bytes, clamped
 * into the accepted range (no limit set shows up as the node's whole memory).
 */
function budgetBytes(flag: string | undefined, fromEnv: string | undefined): number {
  if (flag !== undefined) return parseQuantity('memory-budget', flag);
  if (fromEnv === undefined || fromEnv === '') return DEFAULT_MEMORY_BUDGET_BYTES;
  const bytes = parseQuantity('memory-budget', fromEnv);
  return Math.min(MAX_MEMORY_BUDGET_BYTES, Math.max(MIN_MEMORY_BUDGET_BYTES, bytes));
}
