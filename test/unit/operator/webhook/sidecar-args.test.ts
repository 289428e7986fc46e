/**
 * The command lines injection writes must parse with the flags the binaries accept.
 *
 * The sidecar: `tokenwarden sidecar --control-plane …` is the in-cluster mode of
 * docs/contracts/in-cluster.md ("Sidecar in control-plane mode"), being added to
 * src/config/sidecar.ts by the stream-sidecar work. Until the real parser accepts it, the args
 * are parsed strictly against the contract's flag list below; once parseSidecarArgs takes
 * --control-plane, the second test runs it on the very same args (and the first can go).
 */
import { parseArgs } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseCaptureArgs } from '../../../../src/config/capture.js';
import { parseSidecarArgs } from '../../../../src/config/sidecar.js';
import { captureArgs, sidecarArgs } from '../../../../src/operator/webhook/inject.js';
import { policy, settings } from './settings.js';

/** `tokenwarden sidecar` flags in control-plane mode, from the contract. */
const CONTRACT_SIDECAR_FLAGS = {
  'control-plane': { type: 'string' },
  upstream: { type: 'string' },
  'control-plane-ca': { type: 'string' },
  'token-file': { type: 'string' },
  'state-dir': { type: 'string' },
  listen: { type: 'string' },
  'admin-listen': { type: 'string' },
  'log-level': { type: 'string' },
} as const;

/** `tokenwarden capture` flags, from the contract. */
const CONTRACT_CAPTURE_FLAGS = {
  'target-port': { type: 'string' },
  'proxy-port': { type: 'string' },
  'proxy-uid': { type: 'string' },
  ipv6: { type: 'string' },
} as const;

describe('injected command lines', () => {
  it('the sidecar args parse strictly against the contract flags', () => {
    const [sub, ...rest] = sidecarArgs(policy, settings);
    expect(sub).toBe('sidecar');
    const { values } = parseArgs({ args: rest, options: CONTRACT_SIDECAR_FLAGS, strict: true });
    expect(values).toEqual({
      'control-plane': settings.controlPlaneUrl,
      upstream: 'http://127.0.0.1:8080',
      'state-dir': '/var/lib/tokenwarden',
      'token-file': '/var/run/secrets/tokenwarden/token',
      'log-level': 'info',
      listen: '[::]:15080',
      'admin-listen': '[::]:15090',
    });
  });

  it('the sidecar args parse with the real sidecar parser', () => {
    const [, ...rest] = sidecarArgs(policy, settings);
    const parsed = parseSidecarArgs(rest, {});
    expect(parsed.help).toBe(false);
    if (!parsed.help) {
      expect(parsed.config.upstream.href).toBe('http://127.0.0.1:8080/');
      expect(parsed.config.logLevel).toBe('info');
    }
  });

  it('the capture args parse strictly against the contract flags', () => {
    const [sub, ...rest] = captureArgs(policy, settings);
    expect(sub).toBe('capture');
    const { values } = parseArgs({ args: rest, options: CONTRACT_CAPTURE_FLAGS, strict: true });
    expect(values).toEqual({ 'target-port': '8080', 'proxy-port': '15080', 'proxy-uid': '15080' });
  });

  it('the capture args carry --ipv6 off only when the platform turned IPv6 capture off', () => {
    expect(captureArgs(policy, { captureIpv6: 'on' })).not.toContain('--ipv6');
    const args = captureArgs(policy, { captureIpv6: 'off' });
    expect(args.slice(args.indexOf('--ipv6'))).toEqual(['--ipv6', 'off']);
    const [, ...rest] = args;
    expect(parseCaptureArgs(rest)).toMatchObject({ help: false, config: { ipv6: 'off' } });
    expect(parseCaptureArgs(captureArgs(policy, settings).slice(1))).toMatchObject({
      config: { ipv6: 'auto' },
    });
  });

  it('the sidecar listens on both families', () => {
    const [, ...rest] = sidecarArgs(policy, settings);
    const parsed = parseSidecarArgs(rest, {});
    expect(parsed.help).toBe(false);
    if (!parsed.help) {
      expect(parsed.config.listen).toMatchObject({ host: '::', port: 15080 });
      expect(parsed.config.adminListen).toMatchObject({ host: '::', port: 15090 });
    }
  });
});
