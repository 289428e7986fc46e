/**
 * `tokenwarden sidecar` flags → one frozen, typed config. The only place the sidecar reads
 * its command line and environment. The flags, their defaults and bounds: sidecar-flags.ts.
 */
import { readFileSync } from 'node:fs';
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
import {
  BODY_RATE_WINDOW_MS,
  DEFAULT_STATE_DIR,
  DEFAULT_TOKEN_FILE,
  SIDECAR_FLAGS,
  type SidecarFlag,
} from './sidecar-flags.js';

export { SIDECAR_FLAGS, SIDECAR_USAGE } from './sidecar-flags.js';

/** In-cluster mode: where the configuration comes from (docs/contracts/in-cluster.md). */
export interface ControlPlaneConfig {
  readonly url: URL;
  /** PEM CA bundle the operator's certificate must chain to; undefined: the system roots. */
  readonly caPem: string | undefined;
  /** Where the CA came from, for the start-up log line. */
  readonly caSource: 'file' | 'env' | 'system';
  /** Projected ServiceAccount token, re-read on every connect (the kubelet rotates it). */
  readonly tokenFile: string;
  /** The snapshot lives here as snapshot.json. */
  readonly stateDir: string;
  /** Downward API, for logs and /status only: identity comes from the token. */
  readonly podName: string | undefined;
  readonly podNamespace: string | undefined;
}

/** Exactly one source: a policy file (standalone) or the operator (in-cluster). */
export type ConfigSource =
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'control-plane'; readonly controlPlane: ControlPlaneConfig };

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

interface SourceFlags {
  policy?: string;
  'control-plane'?: string;
  'control-plane-ca'?: string;
  'token-file'?: string;
  'state-dir'?: string;
}

function parseSource(values: SourceFlags, env: NodeJS.ProcessEnv): ConfigSource {
  const cpOnly = (['control-plane-ca', 'token-file', 'state-dir'] as const).filter(
    (f) => values[f] !== undefined,
  );
  if (values['control-plane'] === undefined) {
    if (cpOnly.length > 0)
      throw new ConfigError(`--${cpOnly[0] ?? ''} only applies with --control-plane URL (in-cluster mode)`);
    if (!values.policy)
      throw new ConfigError(
        '--policy FILE (a YAML file with one TokenPolicy) or --control-plane URL (in-cluster) is required',
      );
    return { kind: 'file', path: values.policy };
  }
  const raw = values['control-plane'];
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(
      `--control-plane: "${raw}" is not a URL; expected e.g. https://tokenwarden.tokenwarden.svc:15443`,
    );
  }
  // The stream carries the policy and the bearer token: never in clear text.
  if (url.protocol !== 'https:' || url.search || url.hash || url.username || url.password) {
    throw new ConfigError(`--control-plane: expected https://HOST[:PORT] with no query, got "${raw}"`);
  }
  let caPem: string | undefined;
  let caSource: ControlPlaneConfig['caSource'] = 'system';
  const caFile = values['control-plane-ca'];
  if (caFile !== undefined) {
    try {
      caPem = readFileSync(caFile, 'utf8');
    } catch (err) {
      throw new ConfigError(`--control-plane-ca: cannot read ${caFile}: ${(err as Error).message}`);
    }
    caSource = 'file';
  } else if (env.TOKENWARDEN_CA_PEM !== undefined && env.TOKENWARDEN_CA_PEM.trim() !== '') {
    caPem = env.TOKENWARDEN_CA_PEM;
    caSource = 'env';
  }
  if (caPem !== undefined && !caPem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new ConfigError(
      `${caSource === 'file' ? `--control-plane-ca ${caFile ?? ''}` : 'TOKENWARDEN_CA_PEM'}: holds no PEM certificate`,
    );
  }
  return {
    kind: 'control-plane',
    controlPlane: Object.freeze({
      url,
      caPem,
      caSource,
      tokenFile: values['token-file'] ?? DEFAULT_TOKEN_FILE,
      stateDir: values['state-dir'] ?? DEFAULT_STATE_DIR,
      podName: env.POD_NAME || undefined,
      podNamespace: env.POD_NAMESPACE || undefined,
    }),
  };
}
