import { describe, expect, it } from 'vitest';
import { ConfigError, loadOperatorConfig } from '../../../src/config/operator.js';

describe('loadOperatorConfig', () => {
  it('has production defaults and a frozen result', () => {
    const c = loadOperatorConfig({}, { POD_NAME: 'op-0', POD_NAMESPACE: 'tokenwarden' });
    expect(c).toMatchObject({
      kubeconfig: undefined,
      metricsListen: { host: '0.0.0.0', port: 15091 },
      leaseNamespace: 'tokenwarden',
      leaseName: 'tokenwarden-operator',
      leaseDurationSeconds: 15,
      resyncSeconds: 300,
      logLevel: 'info',
      identity: 'op-0',
    });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('lets flags win over the environment', () => {
    const c = loadOperatorConfig(
      {
        'lease-namespace': 'ops',
        'log-level': 'debug',
        'lease-duration': '3',
        resync: '2',
        'metrics-listen': '127.0.0.1:0',
      },
      { POD_NAMESPACE: 'tokenwarden', TOKENWARDEN_LOG_LEVEL: 'warn' },
    );
    expect(c).toMatchObject({
      leaseNamespace: 'ops',
      logLevel: 'debug',
      leaseDurationSeconds: 3,
      resyncSeconds: 2,
    });
    expect(c.metricsListen).toEqual({ host: '127.0.0.1', port: 0 });
  });

  it('falls back to hostname_pid as the lease identity', () => {
    expect(loadOperatorConfig({}, {}).identity).toMatch(new RegExp(`_${process.pid}$`));
  });

  it.each([
    { flags: { 'lease-duration': '0' }, want: '--lease-duration' },
    { flags: { 'lease-duration': 'soon' }, want: '--lease-duration' },
    { flags: { resync: '-1' }, want: '--resync' },
    { flags: { 'log-level': 'loud' }, want: '--log-level' },
    { flags: { 'metrics-listen': '15091' }, want: '--metrics-listen' },
    { flags: { 'lease-namespace': 'Not_A_Namespace' }, want: '--lease-namespace' },
  ])('refuses $flags naming the flag', ({ flags, want }) => {
    expect(() => loadOperatorConfig(flags, {})).toThrow(ConfigError);
    expect(() => loadOperatorConfig(flags, {})).toThrow(want);
  });
});
