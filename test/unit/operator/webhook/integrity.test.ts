/**
 * Injection integrity, decided without HTTP: the seal tells the operator's own injection from a
 * look-alike; UPDATEs and ephemeral containers cannot undo it; app containers that could undo
 * capture are refused (strict) or let through with a warning (permissive); a pod author cannot
 * opt out or turn capture off unless the namespace is permissive.
 */
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { NamespacePolicy } from '../../../../src/core/injection.js';
import { ANNOTATION_SEAL, computeSeal, injectionState } from '../../../../src/core/seal.js';
import { decideAdmission, type AdmissionDecision } from '../../../../src/operator/webhook/admission.js';
import type { JsonValue, PatchOp } from '../../../../src/operator/webhook/patch.js';
import { applyPatch } from './json-patch.js';
import { SEAL_KEY, policy, settings } from './settings.js';

const ctx = {
  settings: () => settings,
  lookupPolicy: () => ({ status: 'found' as const, policy }),
  sealKey: SEAL_KEY,
};

const app = (over: Partial<V1Container> = {}): V1Container => ({
  name: 'app',
  image: 'example.com/orders:1',
  ports: [{ name: 'http', containerPort: 8080 }],
  ...over,
});
const pod = (over: Partial<V1Pod['spec']> = {}, annotations?: Record<string, string>): V1Pod => ({
  metadata: { name: 'orders-1', labels: { app: 'orders' }, ...(annotations ? { annotations } : {}) },
  spec: { containers: [app()], ...over },
});

const base = {
  uid: 'u-1',
  kind: { group: '', version: 'v1', kind: 'Pod' },
  resource: { group: '', version: 'v1', resource: 'pods' },
  namespace: 'shop',
};
const create = (object: V1Pod, ns: NamespacePolicy = 'strict'): AdmissionDecision =>
  decideAdmission({ ...base, operation: 'CREATE', object }, ctx, ns);
const update = (oldObject: V1Pod, object: V1Pod, subResource?: string): AdmissionDecision =>
  decideAdmission(
    {
      ...base,
      operation: 'UPDATE',
      object,
      oldObject,
      ...(subResource ? { subResource } : {}),
    },
    ctx,
  );

/** What the API server stores after our patch. */
function injected(p: V1Pod = pod()): V1Pod {
  const d = create(p);
  expect(d.result).toBe('injected');
  const ops = JSON.parse(Buffer.from(d.response.patch!, 'base64').toString()) as PatchOp[];
  return applyPatch(p as unknown as JsonValue, ops) as unknown as V1Pod;
}

describe('the seal', () => {
  it('is written on injection and verifies on the stored pod; another key or namespace does not', () => {
    const stored = injected();
    expect(stored.metadata?.annotations?.[ANNOTATION_SEAL]).toMatch(/^v1\.[A-Za-z0-9_-]{43}$/);
    expect(injectionState(stored, 'shop', SEAL_KEY)).toBe('sealed');
    expect(injectionState(stored, 'other', SEAL_KEY)).toBe('lookalike');
    expect(injectionState(stored, 'shop', new Uint8Array(32).fill(8))).toBe('lookalike');
  });

  it('survives fields other webhooks and defaulting touch (env, mounts, resources)', () => {
    const stored = injected();
    const sidecar = stored.spec!.initContainers![1]!;
    sidecar.env = [...(sidecar.env ?? []), { name: 'AWS_ROLE_ARN', value: 'x' }];
    sidecar.resources = { requests: { cpu: '1' } };
    sidecar.terminationMessagePath = '/dev/termination-log';
    expect(injectionState(stored, 'shop', SEAL_KEY)).toBe('sealed');
  });

  it.each([
    ['the sidecar image', (p: V1Pod) => (p.spec!.initContainers![1]!.image = 'evil/noop:1')],
    ['the capture image', (p: V1Pod) => (p.spec!.initContainers![0]!.image = 'busybox')],
    ['the capture args', (p: V1Pod) => (p.spec!.initContainers![0]!.args = ['capture', '--dry-run'])],
    ['the sidecar UID', (p: V1Pod) => (p.spec!.initContainers![1]!.securityContext!.runAsUser = 0)],
    ['the capture container removed', (p: V1Pod) => p.spec!.initContainers!.shift()],
    [
      'a second capture-named container',
      (p: V1Pod) => p.spec!.containers.push({ name: 'tokenwarden-capture', image: 'x' }),
    ],
  ])('breaks when %s changes', (_name, change) => {
    const stored = injected();
    change(stored);
    expect(injectionState(stored, 'shop', SEAL_KEY)).toBe('lookalike');
  });
});

describe('CREATE', () => {
  it('leaves a sealed pod as it is (a reinvocation)', () => {
    const d = create(injected());
    expect(d.response).toEqual({ uid: 'u-1', allowed: true });
    expect(d.reason).toBe('sidecar_already_exists');
  });

  it.each([
    [
      'a look-alike init container',
      pod({ initContainers: [{ name: 'tokenwarden-sidecar', image: 'busybox' }] }),
    ],
    [
      'a look-alike app container',
      pod({ containers: [app(), { name: 'tokenwarden-sidecar', image: 'busybox' }] }),
    ],
    [
      'a look-alike capture container',
      pod({ initContainers: [{ name: 'tokenwarden-capture', image: 'busybox' }] }),
    ],
    ['the injected stamp alone', pod({}, { 'tokenwarden.dev/injected': '0.1.0' })],
    ['a forged seal', pod({}, { [ANNOTATION_SEAL]: 'v1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' })],
  ])('refuses %s in a strict namespace, lets it through with a warning in a permissive one', (_n, p) => {
    const strict = create(p);
    expect(strict.response.allowed).toBe(false);
    expect(strict.reason).toBe('lookalike');
    const permissive = create(p, 'permissive');
    expect(permissive.response.allowed).toBe(true);
    expect(permissive.response.patch).toBeUndefined();
    expect(permissive.response.warnings?.[0]).toMatch(/did not inject/);
  });

  it('refuses a copied seal on other containers', () => {
    const stored = injected();
    const copy = pod(
      { initContainers: [{ ...stored.spec!.initContainers![1]!, image: 'evil/noop:1' }] },
      {
        [ANNOTATION_SEAL]: stored.metadata!.annotations![ANNOTATION_SEAL]!,
      },
    );
    expect(create(copy).reason).toBe('lookalike');
  });

  it.each([
    [
      'NET_ADMIN',
      pod({ containers: [app({ securityContext: { capabilities: { add: ['NET_ADMIN'] } } })] }),
      /NET_ADMIN/,
    ],
    [
      'cap_net_raw',
      pod({ containers: [app({ securityContext: { capabilities: { add: ['cap_net_raw'] } } })] }),
      /NET_RAW/,
    ],
    ['ALL', pod({ containers: [app({ securityContext: { capabilities: { add: ['ALL'] } } })] }), /ALL/],
    ['privileged', pod({ containers: [app({ securityContext: { privileged: true } })] }), /privileged/],
    ['the sidecar UID', pod({ containers: [app({ securityContext: { runAsUser: 15080 } })] }), /15080/],
    ['the sidecar UID, pod-wide', pod({ securityContext: { runAsUser: 15080 } }), /15080/],
    ['shareProcessNamespace', pod({ shareProcessNamespace: true }), /shareProcessNamespace/],
    ['hostPID', pod({ hostPID: true }), /hostPID/],
    [
      'the token volume',
      pod({ containers: [app({ volumeMounts: [{ name: 'tokenwarden-token', mountPath: '/t' }] })] }),
      /tokenwarden-token/,
    ],
    [
      'the state volume in an init container',
      pod({
        initContainers: [
          { name: 'init', image: 'x', volumeMounts: [{ name: 'tokenwarden-state', mountPath: '/s' }] },
        ],
      }),
      /tokenwarden-state/,
    ],
  ])('refuses an app container with %s in a strict namespace', (_n, p, says) => {
    const d = create(p);
    expect(d.response.allowed).toBe(false);
    expect(d.reason).toBe('unsafe_app_container');
    expect(d.response.status?.message).toMatch(says);
    const permissive = create(p, 'permissive');
    expect(permissive.result).toBe('injected');
    expect(permissive.response.warnings?.[0]).toMatch(says);
  });

  it('does not count the pod-wide UID against a container that sets its own', () => {
    const p = pod({
      securityContext: { runAsUser: 15080 },
      containers: [app({ securityContext: { runAsUser: 1000 } })],
    });
    expect(create(p).result).toBe('injected');
  });

  it('refuses capture: none against the default in a strict namespace; iptables is always allowed', () => {
    expect(create(pod({}, { 'tokenwarden.dev/capture': 'none' })).reason).toBe('capture_mode_not_allowed');
    expect(create(pod({}, { 'tokenwarden.dev/capture': 'iptables' })).result).toBe('injected');
    expect(create(pod({}, { 'tokenwarden.dev/capture': 'none' }), 'permissive').result).toBe('injected');
  });

  it('refuses an opt-out in a strict namespace and allows it, unpatched, in a permissive one', () => {
    const p = pod({}, { 'tokenwarden.dev/inject': 'false' });
    expect(create(p).reason).toBe('opt_out_not_allowed');
    const d = create(p, 'permissive');
    expect(d.response.allowed).toBe(true);
    expect(d.reason).toBe('opted_out');
    expect(d.response.patch).toBeUndefined();
  });
});

describe('UPDATE', () => {
  it.each([
    ['the sidecar image', (p: V1Pod) => (p.spec!.initContainers![1]!.image = 'evil/noop:1')],
    ['the capture image', (p: V1Pod) => (p.spec!.initContainers![0]!.image = 'busybox')],
    ['the seal removed', (p: V1Pod) => delete p.metadata!.annotations![ANNOTATION_SEAL]],
    ['the seal replaced', (p: V1Pod) => (p.metadata!.annotations![ANNOTATION_SEAL] = 'v1.x')],
  ])('refuses an update of a sealed pod that changes %s', (_n, change) => {
    const before = injected();
    const after = structuredClone(before);
    change(after);
    const d = update(before, after);
    expect(d.response.allowed).toBe(false);
    expect(d.reason).toBe('seal_broken');
  });

  it('allows an update that leaves the injection alone (labels, the app image)', () => {
    const before = injected();
    const after = structuredClone(before);
    after.metadata!.labels = { ...after.metadata!.labels, extra: 'yes' };
    after.spec!.containers[0]!.image = 'example.com/orders:2';
    expect(update(before, after).response.allowed).toBe(true);
  });

  it('refuses an ephemeral container with NET_ADMIN in a sealed pod; a plain debug container is fine', () => {
    const before = injected();
    const withDebug = (sc?: V1Container['securityContext']): V1Pod => {
      const after = structuredClone(before);
      after.spec!.ephemeralContainers = [
        { name: 'debug', image: 'busybox', ...(sc ? { securityContext: sc } : {}) },
      ];
      return after;
    };
    const bad = update(before, withDebug({ capabilities: { add: ['NET_ADMIN'] } }), 'ephemeralcontainers');
    expect(bad.reason).toBe('unsafe_app_container');
    expect(bad.response.allowed).toBe(false);
    expect(update(before, withDebug(), 'ephemeralcontainers').response.allowed).toBe(true);
  });

  it('lets updates of pods it never sealed through (nothing to protect)', () => {
    const before = pod();
    const after = pod({}, { 'tokenwarden.dev/injected': 'x' });
    expect(update(before, after).response.allowed).toBe(true);
  });
});

it('computeSeal covers the namespace', () => {
  const stored = injected();
  expect(computeSeal(stored, 'shop', SEAL_KEY)).not.toBe(computeSeal(stored, 'shop2', SEAL_KEY));
});
