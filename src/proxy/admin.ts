/**
 * The sidecar's admin listener: liveness, readiness, Prometheus metrics and a JSON status page.
 * Off the request path, so fastify's conveniences are worth their cost here.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';

export interface AdminStatus {
  /** Ready: a policy is enforced and every issuer's keys were fetched at least once. */
  ready: boolean;
  /** Why not ready, for the readiness probe's body. */
  notReadyReason: string | undefined;
  /** Everything /status shows: generation, staleness, revocations, per-issuer key state. */
  snapshot(): Record<string, unknown>;
}

export function createAdminServer(registry: Registry, status: () => AdminStatus): FastifyInstance {
  const app = Fastify({ logger: false });
  app.get('/healthz', (_req, reply) => reply.send({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const s = status();
    if (!s.ready) return reply.code(503).send({ status: 'not ready', reason: s.notReadyReason });
    return { status: 'ready' };
  });
  app.get('/status', (_req, reply) => reply.send(status().snapshot()));
  app.get('/metrics', async (_req, reply) => {
    const body = await registry.metrics();
    return reply.type(registry.contentType).send(body);
  });
  return app;
}
