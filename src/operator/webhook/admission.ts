/**
 * The mutating admission webhook, as a fastify plugin mounted by the operator's HTTPS server:
 * `POST /inject`, AdmissionReview v1 in, AdmissionReview v1 out (base64 JSON Patch when the pod
 * changes). The decision is inject.ts's; this file scopes the request, looks up the policy,
 * diffs original vs mutated and maps the report to an answer, in one place.
 *
 * Scope: the MutatingWebhookConfiguration only sends Pod CREATEs from namespaces labelled
 * `tokenwarden.dev/injection: enabled` (namespaceSelector); anything else that reaches us
 * (another operation, another kind) is allowed untouched. A pod no policy selects is allowed
 * untouched. A pod that should be protected but cannot be is refused, and so is every request
 * when the policy cache has not synced: with failurePolicy Fail the pod is retried by its
 * controller rather than started unprotected.
 */
import type { V1Pod } from '@kubernetes/client-node';
import type { FastifyPluginAsync } from 'fastify';
import type { Logger } from '../../log/logger.js';
import type { WebhookMetrics, WebhookResult } from '../../metrics/webhook.js';
import { injectSidecar, optedOut, type InjectionReport, type InjectionSettings } from './inject.js';
import type { LookupPolicy } from './lookup.js';
import { diff, type JsonValue } from './patch.js';

export interface InjectionWebhookDeps {
  /** Read per request: the CA PEM changes when the serving certificate does. */
  readonly settings: () => InjectionSettings;
  readonly lookupPolicy: LookupPolicy;
  readonly log: Logger;
  readonly metrics?: WebhookMetrics;
}

/** Why a request was skipped before injection ran (beside inject.ts's reasons). */
export type ScopeReason = 'not_a_pod_create' | 'no_policy' | 'opted_out' | 'not_ready';

export interface AdmissionRequest {
  uid: string;
  kind?: { group?: string; version?: string; kind?: string };
  operation?: string;
  namespace?: string;
  object?: V1Pod;
  dryRun?: boolean;
}

export interface AdmissionReview {
  apiVersion: 'admission.k8s.io/v1';
  kind: 'AdmissionReview';
  request?: AdmissionRequest;
  response?: AdmissionResponse;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  patchType?: 'JSONPatch';
  patch?: string;
  status?: { code: number; message: string };
  warnings?: string[];
}

const reviewSchema = {
  type: 'object',
  required: ['apiVersion', 'kind', 'request'],
  properties: {
    apiVersion: { const: 'admission.k8s.io/v1' },
    kind: { const: 'AdmissionReview' },
    request: {
      type: 'object',
      required: ['uid'],
      properties: {
        uid: { type: 'string', minLength: 1 },
        operation: { type: 'string' },
        namespace: { type: 'string' },
        kind: { type: 'object' },
        object: { type: 'object' },
      },
    },
  },
} as const;

/** The decision for one request, without HTTP: what the plugin answers and counts. */
export interface AdmissionDecision {
  readonly result: Exclude<WebhookResult, 'error'>;
  readonly reason: ScopeReason | InjectionReport['reason'];
  readonly response: AdmissionResponse;
  readonly policy?: string;
}

export function decideAdmission(
  req: AdmissionRequest,
  deps: Omit<InjectionWebhookDeps, 'log' | 'metrics'>,
): AdmissionDecision {
  const allow = (reason: ScopeReason | InjectionReport['reason']): AdmissionDecision => ({
    result: 'skipped',
    reason,
    response: { uid: req.uid, allowed: true },
  });
  const pod = req.object;
  const isPod = req.kind?.group === '' && req.kind?.kind === 'Pod';
  if (req.operation !== 'CREATE' || !isPod || pod === undefined) return allow('not_a_pod_create');
  if (optedOut(pod)) return allow('opted_out');
  const namespace = req.namespace ?? pod.metadata?.namespace ?? '';
  const found = deps.lookupPolicy(namespace, pod.metadata?.labels);
  if (found.status === 'not_ready') {
    return refuse(
      req.uid,
      'not_ready',
      'tokenwarden: the operator has not loaded its TokenPolicies yet; retry',
    );
  }
  if (found.status === 'none') return allow('no_policy');

  const { pod: mutated, report } = injectSidecar(pod, found.policy, deps.settings());
  if (report.outcome === 'refused') {
    return { ...refuse(req.uid, report.reason, `tokenwarden: ${report.message}`), policy: found.policy.name };
  }
  if (report.outcome === 'unchanged') return { ...allow(report.reason), policy: found.policy.name };
  const ops = diff(pod as unknown as JsonValue, mutated as unknown as JsonValue);
  return {
    result: 'injected',
    reason: report.reason,
    policy: found.policy.name,
    response: {
      uid: req.uid,
      allowed: true,
      patchType: 'JSONPatch',
      patch: Buffer.from(JSON.stringify(ops)).toString('base64'),
    },
  };
}

function refuse(
  uid: string,
  reason: ScopeReason | InjectionReport['reason'],
  message: string,
): AdmissionDecision {
  return { result: 'refused', reason, response: { uid, allowed: false, status: { code: 403, message } } };
}

export function injectionWebhook(deps: InjectionWebhookDeps): FastifyPluginAsync {
  const log = deps.log.child({ component: 'webhook' });
  // eslint-disable-next-line @typescript-eslint/require-await -- fastify plugins are async functions
  return async (app) => {
    app.post<{ Body: AdmissionReview }>(
      '/inject',
      { schema: { body: reviewSchema }, bodyLimit: 4 * 1024 * 1024 },
      async (request, reply) => {
        const started = process.hrtime.bigint();
        const req = request.body.request!;
        let result: WebhookResult = 'error';
        try {
          const decision = decideAdmission(req, deps);
          result = decision.result;
          log.info(
            {
              uid: req.uid,
              namespace: req.namespace,
              pod: req.object?.metadata?.name ?? req.object?.metadata?.generateName,
              policy: decision.policy,
              result: decision.result,
              reason: decision.reason,
              dryRun: req.dryRun === true,
            },
            decision.result === 'refused'
              ? 'pod refused'
              : decision.result === 'injected'
                ? 'pod injected'
                : 'pod skipped',
          );
          const review: AdmissionReview = {
            apiVersion: 'admission.k8s.io/v1',
            kind: 'AdmissionReview',
            response: decision.response,
          };
          return await reply.code(200).send(review);
        } finally {
          deps.metrics?.requests.inc({ result });
          deps.metrics?.duration.observe(Number(process.hrtime.bigint() - started) / 1e9);
        }
      },
    );
  };
}
