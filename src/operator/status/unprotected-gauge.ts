/**
 * `tokenwarden_operator_unprotected_pods{namespace, policy, reason}`: selected pods running
 * unprotected, by reason (core/injection.ts UNPROTECTED_REASONS), set by every policy reconcile
 * on the replica that ran it (every replica reconciles; only the leader writes status).
 */
import { Gauge, type Registry } from 'prom-client';
import { UNPROTECTED_REASONS, type UnprotectedReason } from '../../core/injection.js';

export class UnprotectedGauge {
  private readonly gauge: Gauge<'namespace' | 'policy' | 'reason'>;

  constructor(registry: Registry) {
    this.gauge = new Gauge({
      name: 'tokenwarden_operator_unprotected_pods',
      help: 'Pods a TokenPolicy selects that run unprotected, by reason (no_sidecar, opted_out, lookalike, capture_off, unsafe_app_container, wrong_port).',
      labelNames: ['namespace', 'policy', 'reason'] as const,
      registers: [registry],
    });
  }

  /** Every reason of the policy is set (0 included), so a pod that went away clears its series. */
  set(namespace: string, policy: string, counts: Partial<Record<UnprotectedReason, number>>): void {
    for (const reason of UNPROTECTED_REASONS)
      this.gauge.set({ namespace, policy, reason }, counts[reason] ?? 0);
  }

  /** The policy was deleted. */
  forget(namespace: string, policy: string): void {
    for (const reason of UNPROTECTED_REASONS) this.gauge.remove({ namespace, policy, reason });
  }
}
