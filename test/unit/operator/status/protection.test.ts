/**
 * Which selected pods count as unprotected, and why: the operator's own sealed injection with
 * capture, guarding the policy's port, next to safe app containers, and nothing else.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { ANNOTATION_SEAL, computeSeal } from '../../../../src/core/seal.js';
import { injectSidecar } from '../../../../src/operator/webhook/inject.js';
import {
  countByReason,
  unprotectedPodsOf,
  unprotectedReason,
} from '../../../../src/operator/status/protection.js';
import { SEAL_KEY, policy, settings } from '../webhook/settings.js';

const plain = (name = 'orders-1', annotations?: Record<string, string>): V1Pod => ({
  metadata: { name, namespace: 'shop', labels: { app: 'orders' }, ...(annotations ? { annotations } : {}) },
  spec: {
    containers: [
      { name: 'app', image: 'example.com/orders:1', ports: [{ name: 'http', containerPort: 8080 }] },
    ],
  },
});

function sealed(p: V1Pod, targetPort = 8080): V1Pod {
  const out = injectSidecar(p, { ...policy, targetPort }, settings).pod;
  out.metadata!.annotations![ANNOTATION_SEAL] = computeSeal(out, 'shop', SEAL_KEY);
  return out;
}

const inputs = { sealKey: SEAL_KEY, targetPort: 8080 };
const reason = (p: V1Pod) => unprotectedReason(p, 'shop', inputs);

describe('unprotectedReason', () => {
  it('a sealed injection with capture on the policy port is protected', () => {
    expect(reason(sealed(plain()))).toBeUndefined();
  });

  it.each([
    ['no_sidecar', () => plain()],
    ['opted_out', () => plain('x', { 'tokenwarden.dev/inject': 'false' })],
    [
      'lookalike',
      () => {
        const p = plain();
        p.spec!.initContainers = [{ name: 'tokenwarden-sidecar', image: 'busybox', restartPolicy: 'Always' }];
        return p;
      },
    ],
    [
      'lookalike',
      () => {
        const p = sealed(plain());
        p.spec!.initContainers![1]!.image = 'evil/noop:1';
        return p;
      },
    ],
    ['capture_off', () => sealed(plain('x', { 'tokenwarden.dev/capture': 'none' }))],
    [
      'unsafe_app_container',
      () => {
        const p = sealed(plain());
        p.spec!.shareProcessNamespace = true;
        return p;
      },
    ],
    [
      'unsafe_app_container',
      () => {
        const p = sealed(plain());
        p.spec!.ephemeralContainers = [
          { name: 'debug', image: 'x', securityContext: { capabilities: { add: ['NET_ADMIN'] } } },
        ];
        return p;
      },
    ],
    ['wrong_port', () => sealed(plain(), 9090)],
  ])('%s', (want, make) => {
    expect(reason(make())).toBe(want);
  });

  it('without a key (tools, tests) the sidecar name counts as protected, as before the seal', () => {
    const p = plain();
    p.spec!.initContainers = [{ name: 'tokenwarden-sidecar', image: 'busybox' }];
    expect(unprotectedReason(p, 'shop', {})).toBe('capture_off');
    expect(unprotectedReason(sealed(plain()), 'shop', {})).toBeUndefined();
  });

  it('lists and counts them sorted by name', () => {
    const pods = [plain('b'), sealed(plain('a')), plain('c', { 'tokenwarden.dev/inject': 'false' })];
    const out = unprotectedPodsOf(pods, 'shop', inputs);
    expect(out).toEqual([
      { name: 'b', reason: 'no_sidecar' },
      { name: 'c', reason: 'opted_out' },
    ]);
    expect(countByReason(out)).toEqual({ no_sidecar: 1, opted_out: 1 });
  });
});
