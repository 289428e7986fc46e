/**
 * Helpers of the config-stream integration tests: ServiceAccount + Pod objects, pod-bound tokens
 * from the TokenRequest API, an operator with its HTTPS server on 127.0.0.1, and a raw NDJSON
 * client over node:https (no sidecar code: what any client of the contract sees).
 */
import { CoreV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { request } from 'node:https';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { loadOperatorConfig, type OperatorFlags } from '../../src/config/operator.js';
import { runOperator, type OperatorHandle } from '../../src/operator/run.js';
import { suffix, waitFor } from './operator-support.js';

/** ServiceAccount `sa` (created if missing) and a pod running as it; returns the pod as stored. */
export async function createPodWithSa(
  kc: KubeConfig,
  namespace: string,
  name: string,
  labels: Record<string, string>,
  sa = 'app',
): Promise<V1Pod> {
  const core = kc.makeApiClient(CoreV1Api);
  await core
    .createNamespacedServiceAccount({ namespace, body: { metadata: { name: sa } } })
    .catch((err: { code?: number }) => {
      if (err.code !== 409) throw err;
    });
  return core.createNamespacedPod({
    namespace,
    body: {
      metadata: { name, labels },
      spec: { serviceAccountName: sa, containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.10' }] },
    },
  });
}

/** A projected-volume-like token: bound to `pod`, for `audience` (tokenwarden by default). */
export async function podToken(kc: KubeConfig, pod: V1Pod, audience = 'tokenwarden'): Promise<string> {
  const core = kc.makeApiClient(CoreV1Api);
  const tr = await core.createNamespacedServiceAccountToken({
    name: pod.spec?.serviceAccountName ?? 'app',
    namespace: pod.metadata?.namespace ?? '',
    body: {
      spec: {
        audiences: [audience],
        expirationSeconds: 3600,
        boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: pod.metadata?.name, uid: pod.metadata?.uid },
      },
    },
  });
  return tr.status?.token ?? '';
}

export interface TestOperator {
  readonly handle: OperatorHandle;
  readonly registry: Registry;
  readonly port: number;
  caPem(): string;
}

/** An in-process operator whose HTTPS server listens on 127.0.0.1:0 with a 127.0.0.1 SAN. */
export async function startServingOperator(
  kc: KubeConfig,
  namespace: string,
  flags: OperatorFlags = {},
  identity = `op-${suffix()}`,
): Promise<TestOperator> {
  const cfg = loadOperatorConfig(
    {
      'metrics-listen': '127.0.0.1:0',
      namespace,
      serve: '127.0.0.1:0',
      'serving-ip': ['127.0.0.1'],
      'lease-name': `tw-test-${suffix()}`,
      'lease-duration': '3',
      resync: '2',
      'shutdown-timeout': '5',
      ...flags,
    },
    { POD_NAME: identity },
  );
  const registry = new Registry();
  const log = pino({ level: process.env.TOKENWARDEN_TEST_LOG ?? 'silent' });
  const handle = await runOperator(cfg, { kc, log, registry, servingSecretPollMs: 300 });
  await waitFor('operator ready', () => Promise.resolve(handle.ready()));
  return { handle, registry, port: handle.servingAddress.port, caPem: () => handle.ca.caPem() };
}

export interface StreamClient {
  readonly status: number;
  /** The JSON body of a refusal. */
  readonly refusal?: { reason: string; message: string };
  /** Next parsed line (heartbeats skipped unless asked), failing after `timeoutMs`. */
  next(timeoutMs?: number, withHeartbeats?: boolean): Promise<Record<string, unknown>>;
  /** Resolves when the server ends the stream. */
  readonly ended: Promise<void>;
  /** Writes raw bytes on the request body (a stream opened with `acksOnStream` only). */
  write(text: string): void;
  close(): void;
}

/**
 * `GET /v1/config`, or with `acksOnStream` `POST /v1/config` whose request body stays open
 * for ack lines (what a sidecar opens now).
 */
export function openStream(
  port: number,
  caPem: string,
  token: string,
  version?: string,
  opts: { acksOnStream?: boolean } = {},
): Promise<StreamClient> {
  return new Promise((resolve, reject) => {
    const path = `/v1/config${version === undefined ? '' : `?version=${encodeURIComponent(version)}`}`;
    const duplex = opts.acksOnStream === true;
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: duplex ? 'POST' : 'GET',
        ca: caPem,
        headers: {
          authorization: `Bearer ${token}`,
          ...(duplex ? { 'content-type': 'application/x-ndjson', 'transfer-encoding': 'chunked' } : {}),
        },
      },
      (res) => {
        res.setEncoding('utf8');
        const status = res.statusCode ?? 0;
        if (status !== 200) {
          let body = '';
          res.on('data', (c: string) => (body += c));
          res.on('end', () =>
            resolve({
              status,
              refusal: JSON.parse(body) as { reason: string; message: string },
              next: () => Promise.reject(new Error('refused')),
              ended: Promise.resolve(),
              write: () => undefined,
              close: () => req.destroy(),
            }),
          );
          return;
        }
        const lines: Record<string, unknown>[] = [];
        const waiters: (() => void)[] = [];
        let buf = '';
        res.on('data', (c: string) => {
          buf += c;
          let i;
          while ((i = buf.indexOf('\n')) >= 0) {
            lines.push(JSON.parse(buf.slice(0, i)) as Record<string, unknown>);
            buf = buf.slice(i + 1);
          }
          for (const w of waiters.splice(0)) w();
        });
        const ended = new Promise<void>((r) => res.on('close', () => r()));
        const next = async (timeoutMs = 5_000, withHeartbeats = false): Promise<Record<string, unknown>> => {
          const deadline = Date.now() + timeoutMs;
          for (;;) {
            while (lines.length > 0) {
              const l = lines.shift() as Record<string, unknown>;
              if (withHeartbeats || l.type !== 'heartbeat') return l;
            }
            const left = deadline - Date.now();
            if (left <= 0) throw new Error(`no stream message within ${timeoutMs} ms`);
            await new Promise<void>((r) => {
              const t = setTimeout(r, left);
              waiters.push(() => {
                clearTimeout(t);
                r();
              });
            });
          }
        };
        const write = (text: string): void => {
          if (!duplex) throw new Error('a GET stream has no body to write on');
          req.write(text);
        };
        resolve({ status, next, ended, write, close: () => req.destroy() });
      },
    );
    req.on('error', reject);
    if (duplex) req.flushHeaders();
    else req.end();
  });
}

/** POST a JSON body to the operator (with `token` as bearer, if given); returns status and parsed body. */
export function post(
  port: number,
  caPem: string,
  path: string,
  body: unknown,
  token?: string,
): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        ca: caPem,
        headers: {
          ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(data),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: text === '' ? undefined : (JSON.parse(text) as unknown),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

/** Acknowledges `msg` as the sidecar it was sent to: with that pod's `token`. */
export function ack(port: number, caPem: string, msg: Record<string, unknown>, token: string) {
  return post(
    port,
    caPem,
    '/v1/ack',
    { session: msg.session, generation: msg.generation, version: msg.version },
    token,
  );
}
