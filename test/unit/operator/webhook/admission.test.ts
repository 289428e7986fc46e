/**
 * The webhook plugin in-process (fastify `inject()`, no port): AdmissionReview in and out, the
 * JSON schema, scoping, and the request counter in the registry.
 */
import type { V1Pod } from '@kubernetes/client-node';
import Fastify, { type FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../../src/log/logger.js';
import { createWebhookMetrics } from '../../../../src/metrics/webhook.js';
import { injectionWebhook } from '../../../../src/operator/webhook/routes.js';
import type { LookupPolicy } from '../../../../src/operator/webhook/lookup.js';
import type { JsonValue, PatchOp } from '../../../../src/operator/webhook/patch.js';
import { applyPatch } from './json-patch.js';
import { SEAL_KEY, policy, settings } from './settings.js';

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

const silent = createLogger('test', { level: 'silent' });

async function build(lookupPolicy: LookupPolicy = () => ({ status: 'found', policy })) {
  const registry = new Registry();
  app = Fastify();
  await app.register(
    injectionWebhook({
      settings: () => settings,
      lookupPolicy,
      sealKey: SEAL_KEY,
      log: silent,
      metrics: createWebhookMetrics(registry),
    }),
  );
  const count = async (result: string): Promise<number> =>
    (await registry.getSingleMetric('tokenwarden_operator_webhook_requests_total')!.get()).values.find(
      (v) => v.labels.result === result,
    )?.value ?? 0;
  return { app, count };
}

const pod = (annotations?: Record<string, string>): V1Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'orders-1', labels: { app: 'orders' }, ...(annotations ? { annotations } : {}) },
  spec: { containers: [{ name: 'app', image: 'example.com/orders:1', ports: [{ containerPort: 8080 }] }] },
});

const review = (object: V1Pod, over: Record<string, unknown> = {}) => ({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request: {
    uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
    kind: { group: '', version: 'v1', kind: 'Pod' },
    resource: { group: '', version: 'v1', resource: 'pods' },
    operation: 'CREATE',
    namespace: 'shop',
    object,
    ...over,
  },
});

interface Out {
  apiVersion: string;
  kind: string;
  response: {
    uid: string;
    allowed: boolean;
    patchType?: string;
    patch?: string;
    status?: { code: number; message: string };
  };
}

describe('POST /inject', () => {
  it('answers a matching pod with a base64 JSON Patch that adds the sidecar, and counts it', async () => {
    const { app, count } = await build();
    const res = await app.inject({ method: 'POST', url: '/inject', payload: review(pod()) });
    expect(res.statusCode).toBe(200);
    const out = res.json<Out>();
    expect(out.apiVersion).toBe('admission.k8s.io/v1');
    expect(out.kind).toBe('AdmissionReview');
    expect(out.response.uid).toBe('705ab4f5-6393-11e8-b7cc-42010a800002');
    expect(out.response.allowed).toBe(true);
    expect(out.response.patchType).toBe('JSONPatch');
    const ops = JSON.parse(Buffer.from(out.response.patch!, 'base64').toString()) as PatchOp[];
    const patched = applyPatch(pod() as unknown as JsonValue, ops) as unknown as V1Pod;
    expect(patched.spec?.initContainers?.map((c) => c.name)).toEqual([
      'tokenwarden-capture',
      'tokenwarden-sidecar',
    ]);
    expect(await count('injected')).toBe(1);
  });

  it.each([
    ['a pod no policy selects', review(pod())],
    [
      'an UPDATE of a pod the operator did not seal',
      review(pod(), { operation: 'UPDATE', oldObject: pod() }),
    ],
    ['another kind', review(pod(), { kind: { group: 'apps', version: 'v1', kind: 'Deployment' } })],
  ])('allows %s untouched', async (name, body) => {
    const { app, count } = await build(
      name === 'a pod no policy selects' ? () => ({ status: 'none' }) : undefined,
    );
    const out = (await app.inject({ method: 'POST', url: '/inject', payload: body })).json<Out>();
    expect(out.response).toEqual({ uid: body.request.uid, allowed: true });
    expect(await count('skipped')).toBe(1);
  });

  it('refuses a pod whose port collides with the sidecar, naming the port', async () => {
    const { app, count } = await build();
    const p = pod();
    p.spec!.containers[0]!.ports = [{ containerPort: 15080 }];
    const out = (await app.inject({ method: 'POST', url: '/inject', payload: review(p) })).json<Out>();
    expect(out.response.allowed).toBe(false);
    expect(out.response.status?.code).toBe(403);
    expect(out.response.status?.message).toContain('15080');
    expect(await count('refused')).toBe(1);
  });

  it('refuses while the policy cache has not synced (never fails open)', async () => {
    const { app } = await build(() => ({ status: 'not_ready' }));
    const out = (await app.inject({ method: 'POST', url: '/inject', payload: review(pod()) })).json<Out>();
    expect(out.response.allowed).toBe(false);
    expect(out.response.status?.message).toMatch(/not loaded/);
  });

  const valid = review(pod());
  const withRequest = (over: Record<string, unknown>) => ({
    ...valid,
    request: { ...valid.request, ...over },
  });
  it.each([
    ['not an AdmissionReview', { hello: 'world' }],
    ['a v1beta1 review', { ...valid, apiVersion: 'admission.k8s.io/v1beta1' }],
    ['another kind of document', { ...valid, kind: 'AdmissionResponse' }],
    ['a request without uid', { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: {} }],
    ['an empty uid', withRequest({ uid: '' })],
    ['an oversized uid', withRequest({ uid: 'u'.repeat(129) })],
    ['a request without kind', withRequest({ kind: undefined })],
    ['a request without resource', withRequest({ resource: { group: '' } })],
    ['an unknown operation', withRequest({ operation: 'PATCH' })],
    ['no namespace', withRequest({ namespace: undefined })],
    ['a CREATE without object', withRequest({ object: undefined })],
    ['a pod without spec.containers', withRequest({ object: { metadata: {}, spec: {} } })],
    ['an UPDATE without oldObject', withRequest({ operation: 'UPDATE' })],
    ['a non-boolean dryRun', withRequest({ dryRun: 'yes' })],
  ])('answers a generic 400 to %s, naming nothing', async (_name, payload) => {
    const { app, count } = await build();
    const res = await app.inject({ method: 'POST', url: '/inject', payload });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ message: 'bad request' });
    expect(res.body).not.toMatch(/orders|8080|uid|policy|field/);
    expect(await count('error')).toBe(1);
  });

  it.each([
    ['text/plain', 'text/plain', JSON.stringify(valid)],
    ['a form', 'application/x-www-form-urlencoded', 'a=b'],
    ['no content type', undefined, JSON.stringify(valid)],
    ['bad JSON', 'application/json', '{"apiVersion":'],
    ['a prototype-polluting body', 'application/json', '{"__proto__":{"x":1}}'],
  ])('answers the same generic 400 to %s', async (_name, type, payload) => {
    const { app } = await build();
    for (const url of ['/inject', '/inject/permissive']) {
      const res = await app.inject({
        method: 'POST',
        url,
        payload,
        headers: type === undefined ? {} : { 'content-type': type },
      });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({ message: 'bad request' });
    }
  });

  it('answers the same generic 400 to a body over the limit', async () => {
    const { app } = await build();
    const res = await app.inject({
      method: 'POST',
      url: '/inject',
      payload: JSON.stringify({ pad: 'x'.repeat(5 * 1024 * 1024) }),
      headers: { 'content-type': 'application/json' },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ message: 'bad request' });
  });

  it('refuses an opted-out pod on /inject and lets it through on /inject/permissive', async () => {
    const { app } = await build();
    const body = review(pod({ 'tokenwarden.dev/inject': 'false' }));
    const strict = (await app.inject({ method: 'POST', url: '/inject', payload: body })).json<Out>();
    expect(strict.response.allowed).toBe(false);
    expect(strict.response.status?.message).toMatch(/does not allow opting out/);
    const permissive = (
      await app.inject({ method: 'POST', url: '/inject/permissive', payload: body })
    ).json<Out>();
    expect(permissive.response.allowed).toBe(true);
    expect(permissive.response.patch).toBeUndefined();
  });

  it('answers 500 and counts an error when the lookup throws (the API server then applies failurePolicy)', async () => {
    const { app, count } = await build(() => {
      throw new Error('boom');
    });
    const res = await app.inject({ method: 'POST', url: '/inject', payload: review(pod()) });
    expect(res.statusCode).toBe(500);
    expect(await count('error')).toBe(1);
  });
});
