import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { APP_PROBES_ENV, parseAppProbes } from '../../../../src/core/app-probes.js';
import { SIDECAR_NAME, injectSidecar } from '../../../../src/operator/webhook/inject.js';
import { rewriteAppProbes } from '../../../../src/operator/webhook/probes.js';
import { policy, settings } from './settings.js';

const app = (): V1Container => ({
  name: 'app',
  image: 'app',
  ports: [
    { name: 'http', containerPort: 8080 },
    { name: 'other', containerPort: 9000 },
  ],
  readinessProbe: {
    httpGet: { path: '/ready', port: 'http', httpHeaders: [{ name: 'X-Probe', value: 'yes' }] },
    timeoutSeconds: 3,
  },
  livenessProbe: { httpGet: { path: '/live', port: 8080, scheme: 'HTTPS' } },
  startupProbe: { httpGet: { path: '/start', port: 9000 } },
});

describe('rewriteAppProbes', () => {
  it('moves HTTP probes on the target port (number or name) to the admin port, keeping the original', () => {
    const containers = [app()];
    const env = rewriteAppProbes(containers, 8080);
    expect(containers[0]!.readinessProbe!.httpGet).toEqual({
      path: '/app-health/app/readyz',
      port: 15090,
      scheme: 'HTTP',
    });
    expect(containers[0]!.readinessProbe!.timeoutSeconds).toBe(3);
    expect(containers[0]!.livenessProbe!.httpGet!.path).toBe('/app-health/app/livez');
    // Another port is not captured: left alone.
    expect(containers[0]!.startupProbe!.httpGet).toEqual({ path: '/start', port: 9000 });
    expect(env).toHaveLength(1);
    expect(env[0]!.name).toBe(APP_PROBES_ENV);
    const parsed = parseAppProbes(env[0]!.value!);
    expect(parsed.get('app/readyz')).toEqual({
      path: '/ready',
      port: 8080,
      scheme: 'HTTP',
      headers: [{ name: 'X-Probe', value: 'yes' }],
      timeoutSeconds: 3,
    });
    expect(parsed.get('app/livez')).toMatchObject({ path: '/live', scheme: 'HTTPS', timeoutSeconds: 1 });
    expect(parsed.has('app/startupz')).toBe(false);
  });

  it('leaves TCP, gRPC, exec and host-addressed probes alone and adds no env', () => {
    const c: V1Container = {
      name: 'app',
      livenessProbe: { tcpSocket: { port: 8080 } },
      readinessProbe: { grpc: { port: 8080 } },
      startupProbe: { httpGet: { host: '10.0.0.1', path: '/', port: 8080 } },
    };
    const before = structuredClone(c);
    expect(rewriteAppProbes([c], 8080)).toEqual([]);
    expect(c).toEqual(before);
  });

  it('injection: the sidecar carries the probes, the app probes the admin port, even in capture none', () => {
    for (const capture of ['iptables', 'none']) {
      const pod: V1Pod = {
        metadata: { name: 'p', annotations: { 'tokenwarden.dev/capture': capture } },
        spec: { containers: [app()] },
      };
      const { pod: out, report } = injectSidecar(pod, policy, settings);
      expect(report.outcome).toBe('injected');
      const sidecar = out.spec!.initContainers!.find((c) => c.name === SIDECAR_NAME)!;
      const env = sidecar.env!.find((e) => e.name === APP_PROBES_ENV);
      expect(parseAppProbes(env!.value!).get('app/readyz')?.port).toBe(8080);
      expect(out.spec!.containers[0]!.readinessProbe!.httpGet!.port).toBe(15090);
      // The input pod is not touched.
      expect(pod.spec!.containers[0]!.readinessProbe!.httpGet!.port).toBe('http');
    }
  });
});
