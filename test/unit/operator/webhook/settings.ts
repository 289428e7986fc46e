/** Fixed injection settings for the unit tests and the golden fixtures. */
import type { InjectionSettings } from '../../../../src/operator/webhook/inject.js';

export const TEST_CA_PEM = '-----BEGIN CERTIFICATE-----\nMIIBtest\n-----END CERTIFICATE-----\n';

export const settings: InjectionSettings = Object.freeze({
  image: 'ghcr.io/tokenwarden/tokenwarden:0.1.0',
  imagePullPolicy: 'IfNotPresent',
  controlPlaneUrl: 'https://tokenwarden.tokenwarden-system.svc:15443',
  caPem: TEST_CA_PEM,
  logLevel: 'info',
  sidecarResources: { requests: { cpu: '20m', memory: '64Mi' }, limits: { memory: '192Mi' } },
  captureResources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '96Mi' } },
  defaultCaptureMode: 'iptables',
  captureIpv6: 'on',
  version: '0.1.0',
});

export const policy = Object.freeze({ name: 'orders', targetPort: 8080 });

/** A fixed seal key (the operator's is random, in Secret tokenwarden-seal). */
export const SEAL_KEY = new Uint8Array(32).fill(7);
