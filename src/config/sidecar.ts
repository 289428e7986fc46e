/**
 * `tokenwarden sidecar` flags → one frozen, typed config. The only place the sidecar reads
 * its command line and environment.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, parseListen, type ListenAddress } from './listen.js';
import {
  DEFAULT_MEMORY_BUDGET_BYTES,
  MAX_MEMORY_BUDGET_BYTES,
  MIN_MEMORY_BUDGET_BYTES,
  parseQuantity,
  planMemory,
  type MemoryPlan,
} from './memory.js';

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

export const DEFAULT_TOKEN_FILE = '/var/run/secrets/tokenwarden/token';
export const DEFAULT_STATE_DIR = '/var/lib/tokenwarden';

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
  readonly maxConnectionsPerClient: number;
  readonly maxConnections: number;
  readonly responseStallTimeoutMs: number;
  readonly upstreamQueueTimeoutMs: number;
}

export const SIDECAR_USAGE = `usage: tokenwarden sidecar --policy FILE --upstream URL [flags]
       tokenwarden sidecar --control-plane URL --upstream URL [flags]

Runs the enforcing reverse proxy in front of one app. Standalone, FILE holds YAML documents:
one TokenPolicy and any number of TokenRevocation; it is watched and an edit takes effect
within one second (an invalid edit keeps the last good policy). In-cluster, the operator at
URL streams the policy, keys and revocations; the last applied state is kept in --state-dir
and enforced while the operator is unreachable.

flags:
  --policy FILE            policy file (standalone)
  --control-plane URL      the operator, e.g. https://tokenwarden.tokenwarden.svc:15443
  --control-plane-ca FILE  CA bundle for the operator's certificate (else env
                           TOKENWARDEN_CA_PEM, else the system roots)
  --token-file FILE        projected ServiceAccount token, re-read on every connect
                           (default ${DEFAULT_TOKEN_FILE})
  --state-dir DIR          where snapshot.json is kept (default ${DEFAULT_STATE_DIR})
  --upstream URL           the app, e.g. http://127.0.0.1:8080 (required)
  --listen HOST:PORT       proxy listener (default 0.0.0.0:15080, env TOKENWARDEN_LISTEN)
  --admin-listen HOST:PORT /healthz /readyz /metrics /status (default 0.0.0.0:15090)
  --log-level LEVEL        trace|debug|info|warn|error (default info, env TOKENWARDEN_LOG_LEVEL)
  --memory-budget SIZE     memory this sidecar is sized for: bytes or a quantity such as 96Mi
                           (default 96Mi, env TOKENWARDEN_MEMORY_BUDGET; set it to the
                           container's memory limit). Sizes the caches below and V8's young
                           generation (one semi-space of budget/48, 1-16 MiB)
  --cache-size N           verified-token cache entries (default 10000)
  --token-cache-bytes N    verified-token cache cap in estimated heap bytes (default budget/16)
  --reuse-store-bytes N    reuse (maxUses) store cap in estimated heap bytes (default budget/8);
                           when full, reuse-limited tokens are refused, never forgotten
  --max-header-bytes N     largest request head accepted, bigger answers 431 (default 32768)
  --max-headers N          most header fields in a request, more answers 431 (default 100)
  --headers-timeout-ms N   the request head must arrive within N ms, else 408 (default 10000)
  --body-buffer-bytes N    bodies up to N bytes are read whole before the app is contacted
                           (default 65536)
  --body-idle-timeout-ms N no body byte for N ms answers 408 (default 15000)
  --body-min-rate N        bytes/s a body must keep over every 10 s window, else 408 (default 1024)
  --max-connections-per-client N
                           open connections per client address, more answer 503 (default 256)
  --max-connections N      open connections in all, more answer 503 (default 4096)
  --response-stall-timeout-ms N
                           a client that reads none of a response for N ms is cut (default 30000)
  --upstream-queue-timeout-ms N
                           longest wait for a free connection to the app, then 503 (default 5000)
  -h, --help               this text
`;

const LOG_LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']);

export type ParsedSidecar = { help: true } | { help: false; config: SidecarConfig };

export function parseSidecarArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): ParsedSidecar {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        policy: { type: 'string' },
        upstream: { type: 'string' },
        listen: { type: 'string' },
        'admin-listen': { type: 'string' },
        'log-level': { type: 'string' },
        'cache-size': { type: 'string' },
        'memory-budget': { type: 'string' },
        'token-cache-bytes': { type: 'string' },
        'reuse-store-bytes': { type: 'string' },
        'max-header-bytes': { type: 'string' },
        'max-headers': { type: 'string' },
        'headers-timeout-ms': { type: 'string' },
        'body-buffer-bytes': { type: 'string' },
        'body-idle-timeout-ms': { type: 'string' },
        'body-min-rate': { type: 'string' },
        'max-connections-per-client': { type: 'string' },
        'max-connections': { type: 'string' },
        'response-stall-timeout-ms': { type: 'string' },
        'upstream-queue-timeout-ms': { type: 'string' },
        'control-plane': { type: 'string' },
        'control-plane-ca': { type: 'string' },
        'token-file': { type: 'string' },
        'state-dir': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new ConfigError(`${(err as Error).message}; run 'tokenwarden sidecar --help'`);
  }
  if (values.help) return { help: true };
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
  const logLevel = values['log-level'] ?? env.TOKENWARDEN_LOG_LEVEL ?? 'info';
  if (!LOG_LEVELS.has(logLevel))
    throw new ConfigError(`--log-level: expected one of ${[...LOG_LEVELS].join('|')}`);
  const memory = planMemory(budgetBytes(values['memory-budget'], env.TOKENWARDEN_MEMORY_BUDGET), {
    tokenCacheBytes:
      values['token-cache-bytes'] === undefined
        ? undefined
        : positiveInt('token-cache-bytes', values['token-cache-bytes']),
    reuseStoreBytes:
      values['reuse-store-bytes'] === undefined
        ? undefined
        : positiveInt('reuse-store-bytes', values['reuse-store-bytes']),
  });
  return {
    help: false,
    config: Object.freeze({
      source,
      upstream,
      listen: parseListen('listen', values.listen ?? env.TOKENWARDEN_LISTEN ?? '0.0.0.0:15080'),
      adminListen: parseListen(
        'admin-listen',
        values['admin-listen'] ?? env.TOKENWARDEN_ADMIN_LISTEN ?? '0.0.0.0:15090',
      ),
      logLevel,
      cacheSize: positiveInt('cache-size', values['cache-size'] ?? '10000'),
      memory,
      tokenCacheBytes: memory.tokenCacheBytes,
      reuseStoreBytes: memory.reuseStoreBytes,
      maxHeaderBytes: positiveInt('max-header-bytes', values['max-header-bytes'] ?? '32768'),
      maxHeaders: positiveInt('max-headers', values['max-headers'] ?? '100'),
      headersTimeoutMs: positiveInt('headers-timeout-ms', values['headers-timeout-ms'] ?? '10000'),
      bodyBufferBytes: positiveInt('body-buffer-bytes', values['body-buffer-bytes'] ?? '65536'),
      bodyIdleTimeoutMs: positiveInt('body-idle-timeout-ms', values['body-idle-timeout-ms'] ?? '15000'),
      bodyMinBytesPerSecond: positiveInt('body-min-rate', values['body-min-rate'] ?? '1024'),
      maxConnectionsPerClient: positiveInt(
        'max-connections-per-client',
        values['max-connections-per-client'] ?? '256',
      ),
      maxConnections: positiveInt('max-connections', values['max-connections'] ?? '4096'),
      responseStallTimeoutMs: positiveInt(
        'response-stall-timeout-ms',
        values['response-stall-timeout-ms'] ?? '30000',
      ),
      upstreamQueueTimeoutMs: positiveInt(
        'upstream-queue-timeout-ms',
        values['upstream-queue-timeout-ms'] ?? '5000',
      ),
    }),
  };
}

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

export function positiveInt(flag: string, value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) {
    throw new ConfigError(`--${flag}: expected a positive integer, got "${value}"`);
  }
  return n;
}
