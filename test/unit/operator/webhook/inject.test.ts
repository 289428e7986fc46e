/**
 * Golden fixtures (the linkerd/dapr model): test/fixtures/pods/NAME.yaml is an admission
 * request's pod, NAME.patch.json what the webhook answers. `UPDATE_GOLDEN=1` rewrites the
 * .patch.json files; review the diff. Besides the byte comparison, every patch is applied to
 * its pod and must give exactly the pod injectSidecar returned.
 */
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { decideAdmission } from '../../../../src/operator/webhook/admission.js';
import {
  CAPTURE_NAME,
  SIDECAR_NAME,
  injectSidecar,
  type InjectionSettings,
} from '../../../../src/operator/webhook/inject.js';
import type { JsonValue, PatchOp } from '../../../../src/operator/webhook/patch.js';
import { applyPatch } from './json-patch.js';
import type { NamespacePolicy } from '../../../../src/core/injection.js';
import { ANNOTATION_SEAL, computeSeal } from '../../../../src/core/seal.js';
import { SEAL_KEY, policy, settings } from './settings.js';

const DIR = fileURLToPath(new URL('../../../fixtures/pods/', import.meta.url));
const fixtures = readdirSync(DIR)
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => f.replace(/\.yaml$/, ''))
  .sort();

interface Golden {
  allowed: boolean;
  reason: string;
  message?: string;
  patch?: PatchOp[];
}

function readPod(name: string): V1Pod {
  return parse(readFileSync(join(DIR, `${name}.yaml`), 'utf8')) as V1Pod;
}

/** Fixtures answered as in a namespace labelled tokenwarden.dev/injection-policy=permissive. */
const PERMISSIVE = new Set(['capture-none', 'capture-none-unnamed-port']);

function answer(pod: V1Pod, nsPolicy: NamespacePolicy = 'strict'): Golden {
  const d = decideAdmission(
    {
      uid: 'u-1',
      operation: 'CREATE',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'shop',
      object: pod,
    },
    { settings: () => settings, lookupPolicy: () => ({ status: 'found', policy }), sealKey: SEAL_KEY },
    nsPolicy,
  );
  const r = d.response;
  return {
    allowed: r.allowed,
    reason: d.reason,
    ...(r.status ? { message: r.status.message } : {}),
    ...(r.patch ? { patch: JSON.parse(Buffer.from(r.patch, 'base64').toString('utf8')) as PatchOp[] } : {}),
  };
}

describe('golden fixtures (test/fixtures/pods)', () => {
  it('cover the required cases', () => {
    expect(fixtures).toEqual(
      expect.arrayContaining([
        'plain',
        'init-containers',
        'named-ports',
        'opted-out',
        'already-injected',
        'port-collision',
        'capture-none',
      ]),
    );
  });

  it.each(fixtures)('%s', (name) => {
    const pod = readPod(name);
    const got = answer(pod, PERMISSIVE.has(name) ? 'permissive' : 'strict');
    const file = join(DIR, `${name}.patch.json`);
    const text = `${JSON.stringify(got, null, 2)}\n`;
    if (process.env.UPDATE_GOLDEN === '1') writeFileSync(file, text);
    expect(text).toBe(readFileSync(file, 'utf8'));
    if (got.patch) {
      const expected = injectSidecar(pod, policy, settings).pod;
      expected.metadata!.annotations![ANNOTATION_SEAL] = computeSeal(expected, 'shop', SEAL_KEY);
      expect(applyPatch(pod as unknown as JsonValue, got.patch)).toEqual(expected);
    }
  });
});

const init = (pod: V1Pod, name: string): V1Container =>
  pod.spec!.initContainers!.find((c) => c.name === name)!;

describe('injectSidecar', () => {
  const plain = readPod('plain');

  it('puts the capture container first and the sidecar second, before the app init containers', () => {
    const { pod } = injectSidecar(readPod('init-containers'), policy, settings);
    expect(pod.spec!.initContainers!.map((c) => c.name)).toEqual([CAPTURE_NAME, SIDECAR_NAME, 'migrate']);
  });

  it('makes the sidecar a hardened native sidecar probed on the admin port', () => {
    const s = init(injectSidecar(plain, policy, settings).pod, SIDECAR_NAME);
    expect(s.restartPolicy).toBe('Always');
    expect(s.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      privileged: false,
      readOnlyRootFilesystem: true,
      seccompProfile: { type: 'RuntimeDefault' },
      runAsNonRoot: true,
      runAsUser: 15080,
      runAsGroup: 15080,
      capabilities: { drop: ['ALL'] },
    });
    expect(s.startupProbe?.httpGet).toEqual({ path: '/healthz', port: 15090 });
    expect(s.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 15090 });
    expect(s.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 15090 });
    expect(s.resources).toEqual(settings.sidecarResources);
    expect(s.args).toEqual([
      'sidecar',
      '--control-plane',
      'https://tokenwarden.tokenwarden-system.svc:15443',
      '--upstream',
      'http://127.0.0.1:8080',
      '--state-dir',
      '/var/lib/tokenwarden',
      '--token-file',
      '/var/run/secrets/tokenwarden/token',
      '--log-level',
      'info',
      '--listen',
      '[::]:15080',
      '--admin-listen',
      '[::]:15090',
    ]);
    expect(s.env?.map((e) => e.name)).toEqual([
      'TOKENWARDEN_CA_PEM',
      'POD_NAME',
      'POD_NAMESPACE',
      'TOKENWARDEN_MEMORY_BUDGET',
    ]);
    // --memory-budget follows the sidecar container's own memory limit (Downward API, bytes).
    expect(s.env?.find((e) => e.name === 'TOKENWARDEN_MEMORY_BUDGET')?.valueFrom).toEqual({
      resourceFieldRef: { containerName: SIDECAR_NAME, resource: 'limits.memory', divisor: '1' },
    });
  });

  it("a sidecar without a memory limit gets no budget from the Downward API (it would be the node's memory)", () => {
    const unlimited = { ...settings, sidecarResources: { requests: { cpu: '20m', memory: '64Mi' } } };
    const s = init(injectSidecar(plain, policy, unlimited).pod, SIDECAR_NAME);
    expect(s.env?.map((e) => e.name)).not.toContain('TOKENWARDEN_MEMORY_BUDGET');
  });

  it('gives the capture container NET_ADMIN and NET_RAW and nothing else', () => {
    const c = init(injectSidecar(plain, policy, settings).pod, CAPTURE_NAME);
    expect(c.securityContext?.capabilities).toEqual({ add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] });
    expect(c.securityContext).toMatchObject({
      runAsUser: 0,
      runAsNonRoot: false,
      allowPrivilegeEscalation: false,
    });
    expect(c.args).toEqual([
      'capture',
      '--target-port',
      '8080',
      '--proxy-port',
      '15080',
      '--proxy-uid',
      '15080',
    ]);
    expect(c.restartPolicy).toBeUndefined();
  });

  it('mounts a projected token for the tokenwarden audience', () => {
    const { pod } = injectSidecar(plain, policy, settings);
    const token = pod.spec!.volumes!.find((v) => v.name === 'tokenwarden-token')!;
    expect(token.projected?.sources).toEqual([
      { serviceAccountToken: { audience: 'tokenwarden', expirationSeconds: 3600, path: 'token' } },
    ]);
  });

  it('does not touch its input', () => {
    const before = structuredClone(plain);
    injectSidecar(plain, policy, settings);
    expect(plain).toEqual(before);
  });

  it('is idempotent: injecting an injected pod changes nothing', () => {
    const once = injectSidecar(plain, policy, settings).pod;
    const twice = injectSidecar(once, policy, settings);
    expect(twice.report.reason).toBe('sidecar_already_exists');
    expect(twice.pod).toBe(once);
  });

  it.each([15080, 15090])('refuses an app port %i, naming it', (port) => {
    const pod = structuredClone(plain);
    pod.spec!.containers[0]!.ports = [{ containerPort: port }];
    const { report } = injectSidecar(pod, policy, settings);
    expect(report.reason).toBe('port_collision');
    expect(report.message).toContain(String(port));
  });

  it('refuses a hostNetwork pod (the rules would land in the node)', () => {
    const pod = structuredClone(plain);
    pod.spec!.hostNetwork = true;
    const { report } = injectSidecar(pod, policy, settings);
    expect(report.reason).toBe('host_network');
    expect(report.outcome).toBe('refused');
  });

  it('uses the default capture mode of the settings when the pod does not say', () => {
    const none: InjectionSettings = { ...settings, defaultCaptureMode: 'none' };
    const { report } = injectSidecar(readPod('named-ports'), policy, none);
    expect(report.captureMode).toBe('none');
  });

  it('refuses an unknown capture mode', () => {
    const pod = structuredClone(plain);
    pod.metadata!.annotations = { 'tokenwarden.dev/capture': 'ebpf' };
    expect(injectSidecar(pod, policy, settings).report.reason).toBe('invalid_capture_mode');
  });
});
