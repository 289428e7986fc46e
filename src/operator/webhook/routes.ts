/**
 * The webhook's HTTP side, a fastify plugin on the operator's HTTPS server: `POST /inject`
 * (strict namespaces) and `POST /inject/permissive` (namespaces the platform labelled
 * `tokenwarden.dev/injection-policy=permissive`; the chart registers one webhook per path, the
 * API server picks by namespace label). AdmissionReview v1 in, AdmissionReview v1 out.
 *
 * Only a well-formed AdmissionReview (review.ts) is answered; anything else, including a wrong
 * content type, bad JSON or an oversized body, gets the same `400 {"message":"bad request"}`:
 * the routes tell a caller that is not the API server nothing about policies or ports.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { NamespacePolicy } from '../../core/injection.js';
import type { Logger } from '../../log/logger.js';
import type { WebhookMetrics, WebhookResult } from '../../metrics/webhook.js';
import { decideAdmission, type AdmissionContext, type AdmissionResponse } from './admission.js';
import { parseReview } from './review.js';

export interface InjectionWebhookDeps extends AdmissionContext {
  readonly log: Logger;
  readonly metrics?: WebhookMetrics;
}

export interface AdmissionReview {
  apiVersion: 'admission.k8s.io/v1';
  kind: 'AdmissionReview';
  response: AdmissionResponse;
}

export const WEBHOOK_PATHS: Readonly<Record<NamespacePolicy, string>> = {
  strict: '/inject',
  permissive: '/inject/permissive',
};

const BAD_REQUEST = { message: 'bad request' };

export function injectionWebhook(deps: InjectionWebhookDeps): FastifyPluginAsync {
  const log = deps.log.child({ component: 'webhook' });
  // eslint-disable-next-line @typescript-eslint/require-await -- fastify plugins are async functions
  return async (app) => {
    // Scoped to these routes (the plugin is encapsulated): parser, size and content-type errors.
    app.setErrorHandler((err: Error & { statusCode?: number }, _request, reply) => {
      const status = err.statusCode;
      if (status !== undefined && status >= 400 && status < 500) {
        // Refused before the handler ran (the handler counts its own requests).
        deps.metrics?.requests.inc({ result: 'error' });
        log.debug({ err: err.message }, 'webhook request refused: not an AdmissionReview');
        return reply.code(400).send(BAD_REQUEST);
      }
      log.error({ err: err.message }, 'webhook request failed');
      return reply.code(500).send({ message: 'internal error' });
    });
    for (const nsPolicy of ['strict', 'permissive'] as const) {
      app.post(WEBHOOK_PATHS[nsPolicy], { bodyLimit: 4 * 1024 * 1024 }, async (request, reply) => {
        const started = process.hrtime.bigint();
        let result: WebhookResult = 'error';
        try {
          const parsed = parseReview(request.body);
          if (!parsed.ok) {
            log.debug({ field: parsed.why }, 'webhook request refused: not an AdmissionReview');
            return await reply.code(400).send(BAD_REQUEST);
          }
          const req = parsed.request;
          const decision = decideAdmission(req, deps, nsPolicy);
          result = decision.result;
          log.info(
            {
              uid: req.uid,
              namespace: req.namespace,
              operation: req.operation,
              pod: req.object?.metadata?.name ?? req.object?.metadata?.generateName,
              policy: decision.policy,
              namespacePolicy: nsPolicy,
              result: decision.result,
              reason: decision.reason,
              dryRun: req.dryRun === true,
            },
            `pod ${decision.result}`,
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
      });
    }
  };
}
