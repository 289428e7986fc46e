/**
 * Ports are written once, in src/core/ports.ts; what cannot import TypeScript must agree with
 * it: the chart's values and schema, the CRD's targetPort rule, and the pod spec the webhook
 * injects (its command lines parsed by the binaries' own parsers).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { V1Pod } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseCaptureArgs } from '../../../src/config/capture.js';
import { OPERATOR_FLAGS } from '../../../src/config/operator.js';
import { SIDECAR_FLAGS, parseSidecarArgs } from '../../../src/config/sidecar.js';
import { parseListen } from '../../../src/config/listen.js';
import {
  ADMIN_PORT,
  OPERATOR_METRICS_PORT,
  OPERATOR_SERVE_PORT,
  PROXY_PORT,
  SIDECAR_UID,
} from '../../../src/core/ports.js';
import { SIDECAR_NAME } from '../../../src/core/injection.js';
import { captureArgs, injectSidecar, sidecarArgs } from '../../../src/operator/webhook/inject.js';
import { policy, settings } from '../operator/webhook/settings.js';

const read = (file: string): string =>
  readFileSync(fileURLToPath(new URL(`../../../${file}`, import.meta.url)), 'utf8');

describe('the chart agrees with src/core/ports.ts', () => {
  const values = parse(read('charts/tokenwarden/values.yaml')) as {
    operator: { metricsPort: number };
    service: { port: number };
  };
  const schema = JSON.parse(read('charts/tokenwarden/values.schema.json')) as {
    properties: { service: { properties: { port: { not: { enum: number[] } } } } };
  };

  it("the operator's metrics and serving ports", () => {
    expect(values.operator.metricsPort).toBe(OPERATOR_METRICS_PORT);
    expect(values.service.port).toBe(OPERATOR_SERVE_PORT);
    expect(parseListen('metrics-listen', OPERATOR_FLAGS['metrics-listen'].default).port).toBe(
      OPERATOR_METRICS_PORT,
    );
    expect(parseListen('serve', OPERATOR_FLAGS.serve.default).port).toBe(OPERATOR_SERVE_PORT);
  });

  it("the Service port may not be one of the sidecar's ports", () => {
    expect([...schema.properties.service.properties.port.not.enum].sort()).toEqual(
      [PROXY_PORT, ADMIN_PORT].sort(),
    );
  });

  it.each([
    'crds/tokenpolicies.tokenwarden.dev.yaml',
    'charts/tokenwarden/crds/tokenpolicies.tokenwarden.dev.yaml',
  ])("%s refuses the sidecar's ports as targetPort", (file) => {
    expect(read(file)).toContain(`rule: self != ${PROXY_PORT} && self != ${ADMIN_PORT}`);
  });
});

describe('the injected pod spec agrees with src/core/ports.ts and the sidecar flags', () => {
  it('the sidecar listens where the pod spec says, and takes the default token file and state dir', () => {
    const [, ...argv] = sidecarArgs(policy, settings);
    const parsed = parseSidecarArgs(argv, {});
    if (parsed.help) throw new Error('help');
    expect(parsed.config.listen.port).toBe(PROXY_PORT);
    expect(parsed.config.adminListen.port).toBe(ADMIN_PORT);
    const source = parsed.config.source;
    if (source.kind !== 'control-plane') throw new Error(source.kind);
    expect(source.controlPlane.tokenFile).toBe(SIDECAR_FLAGS['token-file'].default);
    expect(source.controlPlane.stateDir).toBe(SIDECAR_FLAGS['state-dir'].default);
  });

  it("capture redirects to the sidecar's port and exempts its UID", () => {
    const [, ...argv] = captureArgs(policy, settings);
    const parsed = parseCaptureArgs(argv);
    if (parsed.help) throw new Error('help');
    expect(parsed.config.proxyPort).toBe(PROXY_PORT);
    expect(parsed.config.proxyUid).toBe(SIDECAR_UID);
  });

  it("the sidecar container's ports, probes and user", () => {
    const pod: V1Pod = {
      metadata: { name: 'app', namespace: 'shop' },
      spec: { containers: [{ name: 'app', image: 'app', ports: [{ containerPort: policy.targetPort }] }] },
    };
    const injected = injectSidecar(pod, policy, settings).pod;
    const all = [...(injected.spec?.initContainers ?? []), ...(injected.spec?.containers ?? [])];
    const sidecar = all.find((c) => c.name === SIDECAR_NAME);
    expect(sidecar?.ports?.map((p) => p.containerPort).sort()).toEqual([PROXY_PORT, ADMIN_PORT].sort());
    expect(sidecar?.readinessProbe?.httpGet?.port).toBe(ADMIN_PORT);
    expect(sidecar?.securityContext?.runAsUser).toBe(SIDECAR_UID);
  });
});
