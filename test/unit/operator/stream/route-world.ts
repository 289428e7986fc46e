/**
 * The stream routes on a real fastify server on 127.0.0.1 with a real hub (one policy, pod
 * shop/a), and a node:http client that opens `POST /v1/config` as a sidecar does.
 */
import type { V1Pod } from '@kubernetes/client-node';
import Fastify, { type FastifyInstance } from 'fastify';
import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { LineSplitter } from '../../../../src/distribution/lines.js';
import { createOperatorMetrics, type OperatorMetrics } from '../../../../src/metrics/operator.js';
import { PolicyCatalog } from '../../../../src/operator/policy/catalog.js';
import { SharedKeys } from '../../../../src/operator/policy/keys.js';
import type { RawObject } from '../../../../src/operator/runtime/informers.js';
import { StreamHub } from '../../../../src/operator/stream/hub.js';
import { streamRoutes } from '../../../../src/operator/stream/routes.js';
import { cache, rawPolicy, revokeIn } from './fixtures.js';

export const POD = { namespace: 'shop', name: 'a', uid: 'u-a' };
export const TOKEN = 'pod-a-token';
export const tick = () => new Promise((r) => setImmediate(r));

export interface World {
  app: FastifyInstance;
  hub: StreamHub;
  metrics: OperatorMetrics;
  port: number;
  revoke: (name: string) => Promise<void>;
  errors: (reason: string) => Promise<number>;
  close: () => Promise<void>;
}

export interface ServeOptions {
  /** Start the hub (its caches synced) before serving; default true. */
  readonly started?: boolean;
  readonly readyWaitMs?: number;
  /** The TokenReview answers only when this promise settles (default: at once). */
  readonly reviewed?: Promise<void>;
  /** Called as a TokenReview starts. */
  readonly onReview?: () => void;
}

export async function serveStreams(opts: ServeOptions = {}): Promise<World> {
  const index = cache<RawObject>([]);
  const keys = new SharedKeys();
  const metrics = createOperatorMetrics(new Registry());
  const log = pino({ level: 'silent' });
  const hub = new StreamHub({
    catalog: new PolicyCatalog(cache<RawObject>([rawPolicy])),
    pods: cache<V1Pod>([
      {
        metadata: { name: 'a', namespace: 'shop', uid: 'u-a', labels: { app: 'orders' } },
        spec: { serviceAccountName: 'app', containers: [] },
        status: { phase: 'Running' },
      },
    ]),
    revocations: index,
    keys,
    log,
    metrics,
  });
  await keys.ensure('shop/orders', []);
  if (opts.started ?? true) hub.start();
  const app = Fastify();
  await app.register(streamRoutes, {
    hub,
    log,
    metrics,
    ...(opts.readyWaitMs === undefined ? {} : { readyWaitMs: opts.readyWaitMs }),
    review: async (token) => {
      opts.onReview?.();
      await opts.reviewed;
      return token === TOKEN
        ? { ok: true, pod: POD, serviceAccount: 'app' }
        : { ok: false, status: 401, reason: 'token_invalid', message: 'no' };
    },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const revoke = (name: string): Promise<void> => revokeIn(hub, index, name);
  const errors = async (reason: string): Promise<number> =>
    (await metrics.streamErrors.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;
  const close = async (): Promise<void> => {
    hub.close();
    await app.close();
  };
  return { app, hub, metrics, port: (app.server.address() as AddressInfo).port, revoke, errors, close };
}

export interface Duplex {
  req: ClientRequest;
  res: IncomingMessage;
  messages: Record<string, unknown>[];
  ended: Promise<void>;
}

/** `POST /v1/config` as a sidecar opens it: headers out at once, the body left open for acks. */
export function openDuplex(port: number, contentType = 'application/x-ndjson'): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: '/v1/config',
      headers: {
        authorization: `Bearer ${TOKEN}`,
        'content-type': contentType,
        'transfer-encoding': 'chunked',
      },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const messages: Record<string, unknown>[] = [];
      const lines = new LineSplitter(1 << 20);
      res.on('data', (c: Buffer) => {
        const pushed = lines.push(c);
        if (pushed.ok) for (const l of pushed.lines) messages.push(JSON.parse(l) as Record<string, unknown>);
      });
      const ended = new Promise<void>((r) => res.on('close', () => r()));
      resolve({ req, res, messages, ended });
    });
    req.flushHeaders();
  });
}
