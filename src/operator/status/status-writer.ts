/**
 * Status and Event writes, leader only. A status is patched only when it differs from the one
 * stored (conditions.ts decides), as a JSON merge patch of the status subresource carrying the
 * resourceVersion it was computed from: if the object moved on meanwhile the API server answers
 * 409 and the key is simply reconciled again against the newer object.
 */
import type { CoreV1Api, CoreV1Event, CustomObjectsApi } from '@kubernetes/client-node';
import type { Logger } from '../../log/logger.js';
import type { OperatorMetrics, ReconcileKind } from '../../metrics/operator.js';
import type { EventSpec } from './conditions.js';
import { FIELD_MANAGER, MERGE_PATCH, POLICIES, REVOCATIONS, apiMessage } from '../runtime/k8s.js';
import type { RawObject } from '../runtime/informers.js';

export type WriteOutcome = 'written' | 'unchanged' | 'not-leader';

export interface StatusWriterOptions {
  readonly custom: CustomObjectsApi;
  readonly core: CoreV1Api;
  readonly log: Logger;
  readonly metrics?: OperatorMetrics;
  /** Asked right before every write: a replica that lost the lease writes nothing. */
  readonly isLeader: () => boolean;
  /** Reported as the Event's reportingInstance. */
  readonly identity: string;
  readonly now?: () => number;
}

const COORDS = { TokenPolicy: POLICIES, TokenRevocation: REVOCATIONS } as const;

export class StatusWriter {
  private readonly now: () => number;

  constructor(private readonly options: StatusWriterOptions) {
    this.now = options.now ?? Date.now;
  }

  isLeader(): boolean {
    return this.options.isLeader();
  }

  /**
   * Patches `status` of `obj` to `desired` when `changed`. The caller decides `changed`
   * (a pure comparison); this only refuses to write when not leading.
   */
  async writeStatus(
    kind: ReconcileKind,
    obj: RawObject,
    desired: object,
    changed: boolean,
  ): Promise<WriteOutcome> {
    if (!changed) return 'unchanged';
    if (!this.options.isLeader()) return 'not-leader';
    const { name = '', namespace = '', resourceVersion } = obj.metadata ?? {};
    await this.options.custom.patchNamespacedCustomObjectStatus(
      {
        ...COORDS[kind],
        namespace,
        name,
        body: { metadata: { resourceVersion }, status: desired },
        fieldManager: FIELD_MANAGER,
      },
      MERGE_PATCH,
    );
    this.options.metrics?.statusWrites.inc({ kind });
    this.options.log.debug({ kind, namespace, name }, 'status written');
    return 'written';
  }

  /**
   * Records a core/v1 Event on `obj`. Best effort: a failed Event is logged, never retried,
   * and never fails the reconcile that wanted it.
   */
  async event(kind: ReconcileKind, obj: RawObject, e: EventSpec): Promise<void> {
    if (!this.options.isLeader()) return;
    const { name = '', namespace = '', uid, resourceVersion } = obj.metadata ?? {};
    const at = new Date(this.now());
    const body: CoreV1Event = {
      metadata: { generateName: `${name}.`, namespace },
      involvedObject: { apiVersion: obj.apiVersion, kind, name, namespace, uid, resourceVersion },
      type: e.type,
      reason: e.reason,
      message: e.message.slice(0, 1024),
      source: { component: FIELD_MANAGER },
      reportingComponent: FIELD_MANAGER,
      reportingInstance: this.options.identity.slice(0, 128),
      firstTimestamp: at,
      lastTimestamp: at,
      count: 1,
    };
    try {
      await this.options.core.createNamespacedEvent({ namespace, body });
    } catch (err) {
      this.options.log.warn(
        { kind, namespace, name, reason: e.reason, err: apiMessage(err) },
        'event not recorded',
      );
    }
  }
}
