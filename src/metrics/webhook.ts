/**
 * The injection webhook's metrics (names from docs/contracts/in-cluster.md), registered on the
 * operator's Registry. `result` is a closed set: injected | skipped | refused | error.
 */
import { Counter, Histogram, type Registry } from 'prom-client';

export type WebhookResult = 'injected' | 'skipped' | 'refused' | 'error';

export interface WebhookMetrics {
  readonly requests: Counter<'result'>;
  readonly duration: Histogram;
}

export function createWebhookMetrics(registry: Registry): WebhookMetrics {
  return {
    requests: new Counter({
      name: 'tokenwarden_operator_webhook_requests_total',
      help: 'Admission requests to the injection webhook, by result (injected, skipped, refused, error).',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'tokenwarden_operator_webhook_duration_seconds',
      help: 'Time to answer one admission request of the injection webhook.',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    }),
  };
}
