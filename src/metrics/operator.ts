/**
 * Every metric the operator exports, registered on one injected Registry (never the global one).
 * Labels come from closed sets — a resource kind, a result, a readiness, a reason — with one
 * exception the alerts need: `policy` (`namespace/name`) on the connected/synced sidecar gauges,
 * one series per TokenPolicy that has sidecars on this replica (removed when it has none).
 */
import { Counter, Gauge, Histogram, collectDefaultMetrics, type Registry } from 'prom-client';

/** Kinds of queue keys the operator reconciles. */
export type ReconcileKind = 'TokenPolicy' | 'TokenRevocation';
/** `success`: done; `requeue`: done but wants another look later; `error`: failed, backed off. */
export type ReconcileResultLabel = 'success' | 'requeue' | 'error';
export type Readiness = 'true' | 'false' | 'unknown';
export type WatchedResource = 'tokenpolicies' | 'tokenrevocations' | 'pods';
/** The identity-provider event receivers (src/operator/receivers). */
export type ReceiverKind = 'backchannel_logout' | 'ssf';
/**
 * What became of one pushed event: a revocation made (or already there), a refusal before
 * verification, one of verification, or a failure to write. Closed: also the log field.
 */
export const RECEIVER_OUTCOMES = [
  'revoked',
  'duplicate',
  'rate_limited',
  'no_receiver',
  'not_ready',
  'write_failed',
  'malformed',
  'unknown_issuer',
  'unknown_key',
  'bad_signature',
  'wrong_audience',
  'wrong_type',
  'stale',
  'replayed',
  'missing_events',
  'nonce_present',
  'unknown_event',
  'no_subject',
] as const;
export type ReceiverOutcome = (typeof RECEIVER_OUTCOMES)[number];

export interface OperatorMetrics {
  readonly registry: Registry;
  readonly reconcileTotal: Counter<'kind' | 'result'>;
  readonly reconcileDuration: Histogram<'kind' | 'result'>;
  readonly queueDepth: Gauge;
  readonly policies: Gauge<'ready'>;
  readonly jwksFetches: Counter<'result'>;
  readonly leader: Gauge;
  readonly connectedSidecars: Gauge<'policy'>;
  readonly syncedSidecars: Gauge<'policy'>;
  readonly streamErrors: Counter<'reason'>;
  readonly tokenReviews: Counter<'result'>;
  readonly propagation: Histogram;
  readonly informerRestarts: Counter<'resource'>;
  readonly statusWrites: Counter<'kind'>;
  readonly revocationsCollected: Counter;
  readonly receiverEvents: Counter<'receiver' | 'outcome'>;
}

/**
 * Registers every metric of the operator on `registry`, family by family. The exposition lists
 * metrics in registration order, so the order of the calls below is the order of /metrics.
 */
export function createOperatorMetrics(registry: Registry): OperatorMetrics {
  collectDefaultMetrics({ register: registry, prefix: 'tokenwarden_operator_process_' });
  const control = controlLoopMetrics(registry);
  const stream = streamMetrics(registry);
  const api = apiServerMetrics(registry);
  const receivers = receiverMetrics(registry);
  return { registry, ...control, ...stream, ...api, ...receivers };
}

type ControlLoopMetrics = Pick<
  OperatorMetrics,
  'reconcileTotal' | 'reconcileDuration' | 'queueDepth' | 'policies' | 'jwksFetches' | 'leader'
>;

/** The control loop: reconciles, the work queue, policies by readiness, key fetches, leadership. */
function controlLoopMetrics(registry: Registry): ControlLoopMetrics {
  const m: ControlLoopMetrics = {
    reconcileTotal: new Counter({
      name: 'tokenwarden_operator_reconcile_total',
      help: 'Reconciles by kind and result (success, requeue, error).',
      labelNames: ['kind', 'result'] as const,
      registers: [registry],
    }),
    reconcileDuration: new Histogram({
      name: 'tokenwarden_operator_reconcile_duration_seconds',
      help: 'Time spent in one reconcile, by kind and result.',
      labelNames: ['kind', 'result'] as const,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: 'tokenwarden_operator_queue_depth',
      help: 'Keys waiting in the work queue (delayed keys excluded).',
      registers: [registry],
    }),
    policies: new Gauge({
      name: 'tokenwarden_operator_policies',
      help: 'TokenPolicies known to the operator, by readiness (true, false, unknown).',
      labelNames: ['ready'] as const,
      registers: [registry],
    }),
    jwksFetches: new Counter({
      name: 'tokenwarden_operator_jwks_fetch_total',
      help: 'JWKS and OIDC discovery fetches made by the operator, by result (success, not_modified, failure).',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    leader: new Gauge({
      name: 'tokenwarden_operator_leader',
      help: '1 while this replica holds the leader Lease (writes status, collects revocations).',
      registers: [registry],
    }),
  };
  m.leader.set(0);
  m.queueDepth.set(0);
  return m;
}

/** The config stream: sidecars connected and in sync, refusals, authentications, propagation. */
function streamMetrics(
  registry: Registry,
): Pick<
  OperatorMetrics,
  'connectedSidecars' | 'syncedSidecars' | 'streamErrors' | 'tokenReviews' | 'propagation'
> {
  return {
    connectedSidecars: new Gauge({
      name: 'tokenwarden_operator_connected_sidecars',
      help: 'Sidecars connected to this replica for configuration, by TokenPolicy (namespace/name).',
      labelNames: ['policy'] as const,
      registers: [registry],
    }),
    syncedSidecars: new Gauge({
      name: 'tokenwarden_operator_synced_sidecars',
      help: "Sidecars on this replica acknowledging their policy's current config version, by TokenPolicy.",
      labelNames: ['policy'] as const,
      registers: [registry],
    }),
    streamErrors: new Counter({
      name: 'tokenwarden_operator_stream_errors_total',
      help: 'Config stream requests refused and sessions ended by the operator, by reason.',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    tokenReviews: new Counter({
      name: 'tokenwarden_operator_tokenreviews_total',
      help: 'Config stream authentications by how each was decided: a TokenReview sent to the API server (reviewed), an answer reused from the cache (cached), a token checked against the service-account issuer keys and accepted (verified) or refused (refused).',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    propagation: new Histogram({
      name: 'tokenwarden_propagation_seconds',
      help: 'Time from the informer observing a TokenRevocation write to the last matching sidecar on this replica acknowledging it.',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
      registers: [registry],
    }),
  };
}

/**
 * What the operator does with the API server besides reconciling: watches restarted, status
 * writes, expired revocations collected.
 */
function apiServerMetrics(
  registry: Registry,
): Pick<OperatorMetrics, 'informerRestarts' | 'statusWrites' | 'revocationsCollected'> {
  return {
    informerRestarts: new Counter({
      name: 'tokenwarden_operator_informer_restarts_total',
      help: 'Watches restarted after an error, by resource.',
      labelNames: ['resource'] as const,
      registers: [registry],
    }),
    statusWrites: new Counter({
      name: 'tokenwarden_operator_status_writes_total',
      help: 'Status subresource patches sent (only when the status changed), by kind.',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    revocationsCollected: new Counter({
      name: 'tokenwarden_operator_revocations_collected_total',
      help: 'TokenRevocations deleted by the leader after their expiresAt.',
      registers: [registry],
    }),
  };
}

/** Events pushed by identity providers (src/operator/receivers). */
function receiverMetrics(registry: Registry): Pick<OperatorMetrics, 'receiverEvents'> {
  return {
    receiverEvents: new Counter({
      name: 'tokenwarden_operator_receiver_events_total',
      help: 'Identity-provider events received (back-channel logout, SSF), by receiver and outcome.',
      labelNames: ['receiver', 'outcome'] as const,
      registers: [registry],
    }),
  };
}

/** Sets the per-readiness policy gauge from a full count (all three series always present). */
export function setPolicyReadiness(m: OperatorMetrics, counts: Record<Readiness, number>): void {
  for (const ready of ['true', 'false', 'unknown'] as const) m.policies.set({ ready }, counts[ready]);
}
