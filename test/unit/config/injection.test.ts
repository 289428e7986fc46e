import { describe, expect, it } from 'vitest';
import { parseInjectionConfig } from '../../../src/config/injection.js';
import { ConfigError } from '../../../src/config/listen.js';

const good = {
  image: 'ghcr.io/tokenwarden/tokenwarden:0.1.0',
  imagePullPolicy: 'IfNotPresent',
  controlPlaneUrl: 'https://tokenwarden.tokenwarden-system.svc:15443',
  logLevel: 'info',
  captureMode: 'iptables',
  sidecarResources: { requests: { cpu: '20m', memory: '64Mi' }, limits: { memory: '192Mi' } },
  captureResources: { requests: { cpu: 0.01 } },
};

describe('parseInjectionConfig', () => {
  it('reads the chart ConfigMap shape into frozen settings', () => {
    const c = parseInjectionConfig(JSON.stringify(good));
    expect(c).toEqual({
      image: good.image,
      imagePullPolicy: 'IfNotPresent',
      controlPlaneUrl: good.controlPlaneUrl,
      logLevel: 'info',
      defaultCaptureMode: 'iptables',
      captureIpv6: 'on',
      sidecarResources: good.sidecarResources,
      captureResources: { requests: { cpu: '0.01' } },
    });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it.each([
    { name: 'not JSON', text: '{', want: 'not JSON' },
    { name: 'no image', text: JSON.stringify({ ...good, image: '' }), want: 'image' },
    {
      name: 'a plain-http control plane',
      text: JSON.stringify({ ...good, controlPlaneUrl: 'http://x:1' }),
      want: 'controlPlaneUrl',
    },
    {
      name: 'a control plane URL with a path',
      text: JSON.stringify({ ...good, controlPlaneUrl: 'https://x:1/v1' }),
      want: 'controlPlaneUrl',
    },
    {
      name: 'an unknown capture mode',
      text: JSON.stringify({ ...good, captureMode: 'ebpf' }),
      want: 'captureMode',
    },
    {
      name: 'an IPv6 capture setting other than on/off (YAML 1.1 booleans included)',
      text: JSON.stringify({ ...good, captureIpv6: true }),
      want: 'captureIpv6',
    },
    {
      name: 'an unknown pull policy',
      text: JSON.stringify({ ...good, imagePullPolicy: 'Sometimes' }),
      want: 'imagePullPolicy',
    },
    {
      name: 'a bad quantity',
      text: JSON.stringify({ ...good, sidecarResources: { limits: { memory: '1 GB' } } }),
      want: 'sidecarResources.limits.memory',
    },
    {
      name: 'an unknown resources key',
      text: JSON.stringify({ ...good, sidecarResources: { maximum: {} } }),
      want: 'sidecarResources.maximum',
    },
  ])('refuses $name, naming the field', ({ text, want }) => {
    expect(() => parseInjectionConfig(text)).toThrow(ConfigError);
    expect(() => parseInjectionConfig(text)).toThrow(want);
  });
});
