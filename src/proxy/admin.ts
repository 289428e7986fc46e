/**
 * The sidecar's admin listener: liveness, readiness, Prometheus metrics and a JSON status page.
 *
 * Plain node:http rather than fastify: four GET routes do not need a framework, and fastify
 * alone adds ~20 MiB to a process whose budget under load is 100 MiB (bench/README.md).
 */
import http from 'node:http';
import type { Registry } from 'prom-client';

export interface AdminStatus {
  /** Ready: a policy is enforced and every issuer's keys were fetched at least once. */
  ready: boolean;
  /** Why not ready, for the readiness probe's body. */
  notReadyReason: string | undefined;
  /** Everything /status shows: generation, staleness, revocations, per-issuer key state. */
  snapshot(): Record<string, unknown>;
}

export function createAdminServer(registry: Registry, status: () => AdminStatus): http.Server {
  const json = (res: http.ServerResponse, code: number, body: unknown): void => {
    const text = JSON.stringify(body);
    res.writeHead(code, {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
      'content-length': Buffer.byteLength(text),
    });
    res.end(text);
  };
  return http.createServer((req, res) => {
    // A throw in a request handler is an uncaught exception: the process would exit.
    try {
      route(req, res);
    } catch (err) {
      if (!res.headersSent) json(res, 500, { error: err instanceof Error ? err.message : String(err) });
      else res.destroy();
    }
  });

  function route(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { error: 'method not allowed' });
    switch (path) {
      case '/healthz':
        return json(res, 200, { status: 'ok' });
      case '/readyz': {
        const s = status();
        return s.ready
          ? json(res, 200, { status: 'ready' })
          : json(res, 503, { status: 'not ready', reason: s.notReadyReason });
      }
      case '/status':
        return json(res, 200, status().snapshot());
      case '/metrics':
        registry.metrics().then(
          (text) => {
            res.writeHead(200, {
              'content-type': registry.contentType,
              'content-length': Buffer.byteLength(text),
            });
            res.end(text);
          },
          (err: unknown) => json(res, 500, { error: err instanceof Error ? err.message : String(err) }),
        );
        return;
      default:
        return json(res, 404, { error: 'not found', routes: ['/healthz', '/readyz', '/metrics', '/status'] });
    }
  }
}
