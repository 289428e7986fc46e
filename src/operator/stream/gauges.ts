/**
 * The stream's metrics: connected and synced sidecars per policy (a series removed when its
 * last sidecar leaves, so a deleted policy leaves no stale series), and the propagation time of
 * a revocation once every sidecar acknowledged it.
 */
import type { Logger } from '../../log/logger.js';
import type { OperatorMetrics } from '../../metrics/operator.js';
import type { RevocationAck } from './propagation.js';

export function publishSidecarCounts(
  m: OperatorMetrics | undefined,
  policy: string,
  c: { readonly connected: number; readonly synced: number },
): void {
  if (m === undefined) return;
  if (c.connected === 0) {
    m.connectedSidecars.remove({ policy });
    m.syncedSidecars.remove({ policy });
  } else {
    m.connectedSidecars.set({ policy }, c.connected);
    m.syncedSidecars.set({ policy }, c.synced);
  }
}

/** A revocation every sidecar of its policies enforces: how long that took. */
export function revocationAcked(
  m: OperatorMetrics | undefined,
  log: Logger,
  ack: RevocationAck & { key: string },
): boolean {
  if (ack.ackedAt === undefined) return false;
  const seconds = (ack.ackedAt - ack.observedAt) / 1000;
  m?.propagation.observe(seconds);
  log.info(
    { revocation: ack.key, sidecars: ack.sidecars, seconds },
    'revocation acknowledged by every sidecar',
  );
  return true;
}
