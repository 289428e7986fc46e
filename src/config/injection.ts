/**
 * `--injection-config FILE` (the chart's ConfigMap, rendered from values) → frozen injection
 * settings, validated once at start-up. The serving CA and the version are added at run time
 * (the CA changes when the certificate does).
 */
import type { V1ResourceRequirements } from '@kubernetes/client-node';
import { ConfigError } from './listen.js';

/** How client traffic reaches the sidecar: iptables redirect, or the sidecar takes the named port. */
export type CaptureMode = 'iptables' | 'none';
export const CAPTURE_MODES: readonly CaptureMode[] = ['iptables', 'none'];

export interface InjectionFileConfig {
  /** Image of the sidecar and the capture init container (one image). */
  readonly image: string;
  readonly imagePullPolicy: 'Always' | 'IfNotPresent' | 'Never';
  /** https://tokenwarden.<operatorNs>.svc:15443 */
  readonly controlPlaneUrl: string;
  readonly logLevel: string;
  readonly sidecarResources: V1ResourceRequirements;
  readonly captureResources: V1ResourceRequirements;
  /** Used when the pod has no `tokenwarden.dev/capture` annotation. */
  readonly defaultCaptureMode: CaptureMode;
  /** `off`: the capture init container skips IPv6 (`--ipv6 off`); the platform's choice, never a pod's. */
  readonly captureIpv6: 'on' | 'off';
}

const PULL = ['Always', 'IfNotPresent', 'Never'] as const;
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error'];
const QUANTITY = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?$/;

function resources(field: string, v: unknown): V1ResourceRequirements {
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null) throw new ConfigError(`${field}: expected an object`);
  const out: Record<string, Record<string, string>> = {};
  for (const [k, list] of Object.entries(v)) {
    if (k !== 'requests' && k !== 'limits')
      throw new ConfigError(`${field}.${k}: expected requests or limits`);
    if (typeof list !== 'object' || list === null) throw new ConfigError(`${field}.${k}: expected an object`);
    out[k] = {};
    for (const [res, q] of Object.entries(list as Record<string, unknown>)) {
      const s = typeof q === 'number' ? String(q) : q;
      if (typeof s !== 'string' || !QUANTITY.test(s)) {
        throw new ConfigError(`${field}.${k}.${res}: "${String(q)}" is not a quantity`);
      }
      out[k][res] = s;
    }
  }
  return out;
}

export function parseInjectionConfig(text: string, source = 'injection config'): InjectionFileConfig {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError(`${source}: not JSON (${(err as Error).message})`);
  }
  const str = (k: string): string => {
    const v = raw[k];
    if (typeof v !== 'string' || v === '')
      throw new ConfigError(`${source}: ${k} must be a non-empty string`);
    return v;
  };
  const oneOf = <T extends string>(k: string, allowed: readonly T[], fallback: T): T => {
    const v = raw[k] ?? fallback;
    if (!allowed.includes(v as T))
      throw new ConfigError(`${source}: ${k} must be one of ${allowed.join(', ')}`);
    return v as T;
  };
  const controlPlaneUrl = str('controlPlaneUrl');
  if (!/^https:\/\/[^/]+$/.test(controlPlaneUrl)) {
    throw new ConfigError(`${source}: controlPlaneUrl must be https://HOST:PORT, got "${controlPlaneUrl}"`);
  }
  return Object.freeze({
    image: str('image'),
    imagePullPolicy: oneOf('imagePullPolicy', PULL, 'IfNotPresent'),
    controlPlaneUrl,
    logLevel: oneOf('logLevel', LOG_LEVELS, 'info'),
    defaultCaptureMode: oneOf('captureMode', CAPTURE_MODES, 'iptables'),
    captureIpv6: oneOf('captureIpv6', ['on', 'off'] as const, 'on'),
    sidecarResources: resources('sidecarResources', raw.sidecarResources),
    captureResources: resources('captureResources', raw.captureResources),
  });
}
