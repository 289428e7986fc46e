/**
 * `tokenwarden sidecar`: every flag, its default, unit and help, written once. The parser
 * (sidecar.ts) and the usage text below are made from this table; the proxy's components take
 * the parsed values as required options. Reasons for the hardening defaults: ADR 0007.
 */
import { ADMIN_PORT, PROXY_PORT } from '../core/ports.js';
import { flagLines, type FlagTable } from './flags.js';
import { DEFAULT_MEMORY_BUDGET_BYTES, MAX_MEMORY_BUDGET_BYTES, MIN_MEMORY_BUDGET_BYTES } from './memory.js';

const MiB = 1024 * 1024;

export const DEFAULT_TOKEN_FILE = '/var/run/secrets/tokenwarden/token';
export const DEFAULT_STATE_DIR = '/var/lib/tokenwarden';
/** A body's minimum rate (`--body-min-rate`) is measured over every window of this length. */
export const BODY_RATE_WINDOW_MS = 10_000;

export const SIDECAR_FLAGS = {
  policy: { arg: 'FILE', help: 'policy file (standalone)' },
  'control-plane': {
    arg: 'URL',
    help: 'the operator, e.g. https://tokenwarden.tokenwarden.svc:15443',
  },
  'control-plane-ca': {
    arg: 'FILE',
    help: "CA bundle for the operator's certificate (else env TOKENWARDEN_CA_PEM, else the system roots)",
  },
  'token-file': {
    arg: 'FILE',
    default: DEFAULT_TOKEN_FILE,
    help: 'projected ServiceAccount token, re-read on every connect',
  },
  'state-dir': { arg: 'DIR', default: DEFAULT_STATE_DIR, help: 'where snapshot.json is kept' },
  upstream: { arg: 'URL', help: 'the app, e.g. http://127.0.0.1:8080 (required)' },
  listen: {
    arg: 'HOST:PORT',
    default: `0.0.0.0:${PROXY_PORT}`,
    env: 'TOKENWARDEN_LISTEN',
    help: 'proxy listener',
  },
  'admin-listen': {
    arg: 'HOST:PORT',
    default: `0.0.0.0:${ADMIN_PORT}`,
    env: 'TOKENWARDEN_ADMIN_LISTEN',
    help: '/healthz /readyz /metrics /status',
  },
  'log-level': {
    arg: 'LEVEL',
    default: 'info',
    env: 'TOKENWARDEN_LOG_LEVEL',
    help: 'trace|debug|info|warn|error',
  },
  'memory-budget': {
    arg: 'SIZE',
    default: `${DEFAULT_MEMORY_BUDGET_BYTES / MiB}Mi`,
    env: 'TOKENWARDEN_MEMORY_BUDGET',
    help: 'memory this sidecar is sized for: bytes or a quantity such as 96Mi',
    note: `set it to the container's memory limit (the env value is clamped into ${MIN_MEMORY_BUDGET_BYTES / MiB}Mi-${MAX_MEMORY_BUDGET_BYTES / MiB / 1024}Gi). Sizes the caches below and V8's young generation (one semi-space of budget/48, 1-16 MiB)`,
  },
  'cache-size': { arg: 'N', default: 10_000, unit: 'entries', min: 1, help: 'verified-token cache entries' },
  'token-cache-bytes': {
    arg: 'N',
    defaultText: 'budget/16',
    unit: 'bytes',
    min: 1,
    help: 'verified-token cache cap in estimated heap bytes',
  },
  'reuse-store-bytes': {
    arg: 'N',
    defaultText: 'budget/8',
    unit: 'bytes',
    min: 1,
    help: 'reuse (maxUses) store cap in estimated heap bytes',
    note: 'when full, reuse-limited tokens are refused, never forgotten',
  },
  'max-header-bytes': {
    arg: 'N',
    default: 32_768,
    unit: 'bytes',
    min: 1,
    help: 'largest request head accepted, bigger answers 431',
  },
  'max-headers': {
    arg: 'N',
    default: 100,
    min: 1,
    help: 'most header fields in a request, more answers 431',
  },
  'headers-timeout-ms': {
    arg: 'N',
    default: 10_000,
    unit: 'ms',
    min: 1,
    help: 'the request head must arrive within N ms, else 408',
  },
  'body-buffer-bytes': {
    arg: 'N',
    default: 65_536,
    unit: 'bytes',
    min: 1,
    help: 'bodies up to N bytes are read whole before the app is contacted',
  },
  'body-idle-timeout-ms': {
    arg: 'N',
    default: 15_000,
    unit: 'ms',
    min: 1,
    help: 'no body byte for N ms answers 408',
  },
  'body-min-rate': {
    arg: 'N',
    default: 1024,
    unit: 'bytes/s',
    min: 1,
    help: `bytes/s a body must keep over every ${BODY_RATE_WINDOW_MS / 1000} s window, else 408`,
  },
  'max-connections-per-client': {
    arg: 'N',
    default: 256,
    min: 1,
    help: 'open connections per client address, more answer 503',
  },
  'max-connections': { arg: 'N', default: 4096, min: 1, help: 'open connections in all, more answer 503' },
  'response-stall-timeout-ms': {
    arg: 'N',
    default: 30_000,
    unit: 'ms',
    min: 1,
    help: 'a client that reads none of a response for N ms is cut',
  },
  'upstream-queue-timeout-ms': {
    arg: 'N',
    default: 5000,
    unit: 'ms',
    min: 1,
    help: 'longest wait for a free connection to the app, then 503',
  },
} as const satisfies FlagTable;

export type SidecarFlag = keyof typeof SIDECAR_FLAGS;

export const SIDECAR_USAGE = `usage: tokenwarden sidecar --policy FILE --upstream URL [flags]
       tokenwarden sidecar --control-plane URL --upstream URL [flags]

Runs the enforcing reverse proxy in front of one app. Standalone, FILE holds YAML documents:
one TokenPolicy and any number of TokenRevocation; it is watched and an edit takes effect
within one second (an invalid edit keeps the last good policy). In-cluster, the operator at
URL streams the policy, keys and revocations; the last applied state is kept in --state-dir
and enforced while the operator is unreachable.

flags:
${flagLines(SIDECAR_FLAGS, 27)}`;
