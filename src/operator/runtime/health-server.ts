/**
 * The operator's own HTTP port: `/metrics` (its Registry), `/healthz` (the process is alive and
 * its event loop turns), `/readyz` (every informer has listed at least once, so what this
 * replica knows is the state of the cluster, not a partial view).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { ListenAddress } from '../../config/listen.js';

export interface HealthServerOptions {
  readonly listen: ListenAddress;
  readonly registry: Registry;
  /** Why the operator is not ready, or undefined when it is. */
  readonly notReady: () => string | undefined;
}

export interface HealthServer {
  readonly address: AddressInfo;
  close(): Promise<void>;
}

function route(o: HealthServerOptions, method: string, path: string): Promise<[number, string, string]> {
  if (method !== 'GET' && method !== 'HEAD')
    return Promise.resolve([405, 'text/plain', 'method not allowed\n']);
  switch (path) {
    case '/metrics':
      return o.registry.metrics().then((body) => [200, o.registry.contentType, body]);
    case '/healthz':
      return Promise.resolve([200, 'text/plain', 'ok\n']);
    case '/readyz': {
      const why = o.notReady();
      return Promise.resolve(
        why === undefined ? [200, 'text/plain', 'ok\n'] : [503, 'text/plain', `${why}\n`],
      );
    }
    default:
      return Promise.resolve([404, 'text/plain', 'not found\n']);
  }
}

export async function startHealthServer(o: HealthServerOptions): Promise<HealthServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    route(o, req.method ?? 'GET', path).then(
      ([status, type, body]) => {
        res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (err: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`${err instanceof Error ? err.message : String(err)}\n`);
      },
    );
  });
  // Probes and scrapes are short; a client that holds a connection open must not block shutdown.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.listen.port, o.listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    address: server.address() as AddressInfo,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
