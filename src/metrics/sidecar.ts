/**
 * Every metric the sidecar exports, registered on one injected Registry (never the global one).
 * Labels come from closed sets only: never a token, subject, jti, path or client address.
 */
import { Counter, Gauge, collectDefaultMetrics, type Registry } from 'prom-client';
import { ALL_REASONS, type DecisionLabel, type Reason } from '../core/reasons.js';
import { LeanHistogram, RequestCounter } from './hot-path.js';

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
  readonly upstreamErrors: Counter<'kind'>;
  readonly verifiedCacheSize: Gauge;
  /** tokenwarden_requests_total, counted without a label lookup per request. */
  countRequest(policy: string, decision: DecisionLabel, reason: Reason): void;
}

export function createSidecarMetrics(registry: Registry): SidecarMetrics {
  collectDefaultMetrics({ register: registry, prefix: 'tokenwarden_process_' });
  const requests = new RequestCounter({
    name: 'tokenwarden_requests_total',
    help: 'Requests decided by the sidecar, by policy, decision and reason.',
    decisions: ['allow', 'deny', 'audit_deny'] satisfies DecisionLabel[],
    reasons: ALL_REASONS,
    registers: [registry],
  });
  return {
    registry,
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
      help: 'Seconds since the enforced configuration was last confirmed current by its source.',
      registers: [registry],
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
    tokenReuse: new Counter({
      name: 'tokenwarden_token_reuse_total',
      help: 'Requests refused because their jti exceeded reuse.maxUses.',
      labelNames: ['policy'] as const,
      registers: [registry],
    }),
    upstreamErrors: new Counter({
      name: 'tokenwarden_upstream_errors_total',
      help: 'Requests that could not be forwarded to the app.',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    verifiedCacheSize: new Gauge({
      name: 'tokenwarden_verified_token_cache_entries',
      help: 'Entries in the verified-token cache.',
      registers: [registry],
    }),
    countRequest(policy, decision, reason) {
      requests.inc(policy, decision, reason);
    },
  };
}
