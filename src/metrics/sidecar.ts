/**
 * Every metric the sidecar exports, registered on one injected Registry (never the global one);
 * those of the bounded stores are defined in sidecar-stores.ts. Labels come from closed sets
 * only: never a token, subject, jti, path or client address.
 */
import { Counter, Gauge, collectDefaultMetrics, type Registry } from 'prom-client';
import { ALL_REASONS, type DecisionLabel, type Reason } from '../core/reasons.js';
import { LeanHistogram, RequestCounter } from './hot-path.js';
import { storeGauges, verifiedCacheEntries, type StoreSizes } from './sidecar-stores.js';

export type { StoreSizes } from './sidecar-stores.js';

const LIFETIME_BUCKETS = [60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600, 86400, 7 * 86400, 30 * 86400];

export interface SidecarMetrics {
  readonly registry: Registry;
  /** Request-path histograms: `record(value)` costs an array increment (src/metrics/hot-path.ts). */
  readonly authDuration: LeanHistogram;
  readonly remainingLifetime: LeanHistogram;
  readonly tokenAge: LeanHistogram;
  readonly revocations: Gauge;
  readonly configGeneration: Gauge;
  readonly configLastApplied: Gauge;
  readonly configStaleness: Gauge;
  readonly configReloadErrors: Counter<'source'>;
  readonly configValid: Gauge;
  readonly jwksRefresh: Counter<'issuer' | 'result'>;
  readonly tokenReuse: Counter<'policy'>;
  /** Uses the reuse store could not be asked about, by what was done instead. */
  readonly reuseStoreUnavailable: Counter<'action'>;
  readonly upstreamErrors: Counter<'kind'>;
  readonly verifiedCacheSize: Gauge;
  /** In-cluster mode only (docs/contracts/in-cluster.md). */
  readonly controlPlaneConnected: Gauge;
  readonly controlPlaneReconnects: Counter<'reason'>;
  /**
   * Sizes of the bounded stores, read at scrape time from `source` (set once wired): the
   * verified-token cache and the reuse store, entries and estimated bytes against their caps.
   */
  setStoreSource(source: () => StoreSizes): void;
  /** tokenwarden_requests_total, counted without a label lookup per request. */
  countRequest(policy: string, decision: DecisionLabel, reason: Reason): void;
}

export interface SidecarMetricsOptions {
  /**
   * Read at scrape time for tokenwarden_config_staleness_seconds (so it is exact, not as old as
   * the last sweep); undefined: nothing enforced yet, the gauge keeps its last value.
   */
  staleness?: () => number | undefined;
}

/**
 * Registers every metric of the sidecar on `registry`, family by family. The exposition lists
 * metrics in registration order, so the order of the calls below is the order of /metrics.
 */
export function createSidecarMetrics(
  registry: Registry,
  options: SidecarMetricsOptions = {},
): SidecarMetrics {
  let storeSource: (() => StoreSizes) | undefined;
  storeGauges(registry, () => storeSource?.());
  collectDefaultMetrics({ register: registry, prefix: 'tokenwarden_process_' });
  const requests = new RequestCounter({
    name: 'tokenwarden_requests_total',
    help: 'Requests decided by the sidecar, by policy, decision and reason.',
    decisions: ['allow', 'deny', 'audit_deny'] satisfies DecisionLabel[],
    reasons: ALL_REASONS,
    registers: [registry],
  });
  const decisions = decisionHistograms(registry);
  const config = configMetrics(registry, options.staleness);
  const outcomes = outcomeMetrics(registry);
  const verifiedCacheSize = verifiedCacheEntries(registry);
  const controlPlane = controlPlaneMetrics(registry);
  return {
    registry,
    ...decisions,
    ...config,
    ...outcomes,
    verifiedCacheSize,
    ...controlPlane,
    setStoreSource(source) {
      storeSource = source;
    },
    countRequest(policy, decision, reason) {
      requests.inc(policy, decision, reason);
    },
  };
}

/** How long deciding takes, and the lifetime and age of the tokens accepted. */
function decisionHistograms(
  registry: Registry,
): Pick<SidecarMetrics, 'authDuration' | 'remainingLifetime' | 'tokenAge'> {
  return {
    authDuration: new LeanHistogram({
      name: 'tokenwarden_auth_duration_seconds',
      help: 'Time spent deciding a request, upstream excluded.',
      buckets: [
        0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1,
      ],
      registers: [registry],
    }),
    remainingLifetime: new LeanHistogram({
      name: 'tokenwarden_token_remaining_lifetime_seconds',
      help: 'Remaining lifetime (exp - now) of accepted tokens.',
      buckets: LIFETIME_BUCKETS,
      registers: [registry],
    }),
    tokenAge: new LeanHistogram({
      name: 'tokenwarden_token_age_seconds',
      help: 'Age (now - iat) of accepted tokens.',
      buckets: LIFETIME_BUCKETS,
      registers: [registry],
    }),
  };
}

/** What is enforced and where it came from: revocations, generation, freshness, validity, keys. */
function configMetrics(
  registry: Registry,
  staleness: SidecarMetricsOptions['staleness'],
): Pick<
  SidecarMetrics,
  | 'revocations'
  | 'configGeneration'
  | 'configLastApplied'
  | 'configStaleness'
  | 'configReloadErrors'
  | 'configValid'
  | 'jwksRefresh'
> {
  return {
    revocations: new Gauge({
      name: 'tokenwarden_revocations',
      help: 'Revocation entries currently enforced.',
      registers: [registry],
    }),
    configGeneration: new Gauge({
      name: 'tokenwarden_config_generation',
      help: 'Generation of the configuration currently enforced (increments on every applied change).',
      registers: [registry],
    }),
    configLastApplied: new Gauge({
      name: 'tokenwarden_config_last_applied_timestamp_seconds',
      help: 'Unix time at which the enforced configuration was applied.',
      registers: [registry],
    }),
    configStaleness: new Gauge({
      name: 'tokenwarden_config_staleness_seconds',
      help: 'Seconds since the enforced configuration was last confirmed current by its source (file: applied; control plane: last message or heartbeat on an in-sync stream).',
      registers: [registry],
      collect() {
        const v = staleness?.();
        if (v !== undefined) this.set(v);
      },
    }),
    configReloadErrors: new Counter({
      name: 'tokenwarden_config_reload_errors_total',
      help: 'Configuration updates refused (the last good configuration stays enforced).',
      labelNames: ['source'] as const,
      registers: [registry],
    }),
    configValid: new Gauge({
      name: 'tokenwarden_config_valid',
      help: '1 when the latest configuration seen was valid and applied, 0 when it was refused.',
      registers: [registry],
    }),
    jwksRefresh: new Counter({
      name: 'tokenwarden_jwks_refresh_total',
      help: 'JWKS fetches by issuer and result.',
      labelNames: ['issuer', 'result'] as const,
      registers: [registry],
    }),
  };
}

/** Requests the sidecar refused or could not hand on, beyond the reason they were counted under. */
function outcomeMetrics(
  registry: Registry,
): Pick<SidecarMetrics, 'tokenReuse' | 'reuseStoreUnavailable' | 'upstreamErrors'> {
  return {
    tokenReuse: new Counter({
      name: 'tokenwarden_token_reuse_total',
      help: 'Requests refused because their jti exceeded reuse.maxUses.',
      labelNames: ['policy'] as const,
      registers: [registry],
    }),
    reuseStoreUnavailable: new Counter({
      name: 'tokenwarden_reuse_store_unavailable_total',
      help: 'Reuse-limited requests the reuse store could not be asked about, by action (refused: 503; counted_per_pod: the policy falls back to per-pod counting).',
      labelNames: ['action'] as const,
      registers: [registry],
    }),
    upstreamErrors: new Counter({
      name: 'tokenwarden_upstream_errors_total',
      help: 'Requests that could not be forwarded to the app.',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
  };
}

/** The config stream to the operator (in-cluster mode). */
function controlPlaneMetrics(
  registry: Registry,
): Pick<SidecarMetrics, 'controlPlaneConnected' | 'controlPlaneReconnects'> {
  return {
    controlPlaneConnected: new Gauge({
      name: 'tokenwarden_control_plane_connected',
      help: '1 while the config stream to the operator is open, else 0 (in-cluster mode).',
      registers: [registry],
    }),
    controlPlaneReconnects: new Counter({
      name: 'tokenwarden_control_plane_reconnects_total',
      help: 'Config stream reconnections scheduled, by why the previous attempt ended.',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
  };
}
