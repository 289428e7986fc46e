/**
 * The informer against a scripted API server on 127.0.0.1 (real HTTP, no mocks): a failed list
 * and a broken watch are retried after a backoff, a 410 Gone relists, and the cache ends up
 * holding the state of the world.
 */
import { CoreV1Api, KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { until } from '../../../support/wait.js';
import { createOperatorMetrics } from '../../../../src/metrics/operator.js';
import { Informer } from '../../../../src/operator/runtime/informers.js';

const pod = (name: string, rv: string) => ({ metadata: { name, namespace: 'n', resourceVersion: rv } });
const event = (res: ServerResponse, type: string, object: unknown) =>
  res.write(`${JSON.stringify({ type, object })}\n`);

describe('Informer', () => {
  let server: Server | undefined;
  let informer: Informer<V1Pod> | undefined;
  afterEach(async () => {
    await informer?.stop();
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
  });

  it('restarts after a failed list and a broken watch, and relists on 410 Gone', async () => {
    const seen: string[] = [];
    let lists = 0;
    let watches = 0;
    server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const watching = url.searchParams.get('watch') === 'true';
      seen.push(`${watching ? 'watch' : 'list'} rv=${url.searchParams.get('resourceVersion') ?? ''}`);
      if (!watching) {
        lists++;
        if (lists === 1) {
          res.writeHead(500, { 'content-type': 'application/json' }).end('{"kind":"Status","code":500}');
          return;
        }
        const items = lists === 2 ? [pod('a', '10')] : [pod('a', '10'), pod('b', '11'), pod('c', '30')];
        const body = {
          kind: 'PodList',
          apiVersion: 'v1',
          metadata: { resourceVersion: lists === 2 ? '10' : '30' },
          items,
        };
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
        return;
      }
      watches++;
      res.writeHead(200, { 'content-type': 'application/json' });
      if (watches === 1) {
        event(res, 'ADDED', pod('b', '11'));
        // The connection breaks mid-watch: client-node reports an error and stops.
        setTimeout(() => res.socket?.destroy(), 50);
      } else if (watches === 2) {
        // Resumed from rv 11, which the server no longer has.
        event(res, 'ERROR', {
          kind: 'Status',
          code: 410,
          reason: 'Expired',
          message: 'too old resource version',
        });
        res.end();
      }
      // Later watches stay open.
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
      users: [{ name: 'u' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    const metrics = createOperatorMetrics(new Registry());
    const core = kc.makeApiClient(CoreV1Api);
    informer = new Informer<V1Pod>(
      'pods',
      kc,
      '/api/v1/pods',
      () => core.listPodForAllNamespaces(),
      pino({ level: 'silent' }),
      metrics,
    );
    const events: string[] = [];
    informer.onEvent((e, p) => events.push(`${e} ${p.metadata?.name ?? ''}`));

    await informer.start();
    expect(informer.synced()).toBe(false);
    await until('the cache to hold a, b and c', () => informer!.cache.list('n').length === 3, 10_000);
    expect(informer.synced()).toBe(true);
    expect(seen.slice(0, 5)).toEqual(['list rv=', 'list rv=', 'watch rv=10', 'watch rv=11', 'list rv=']);
    expect(events).toEqual(['add a', 'add b', 'add c']);
    const restarts = await metrics.informerRestarts.get();
    expect(restarts.values.find((v) => v.labels.resource === 'pods')?.value).toBe(2);
  });
});
