import { describe, expect, it } from 'vitest';
import { isMissScenario, loadConfig, plannedSeconds } from '../../../bench/config.js';

describe('bench config', () => {
  it('runs the summary’s scenarios by default, the -one scenarios only on request', () => {
    const config = loadConfig({});
    expect(config.scenarios).toEqual(['rs256-pool', 'es256-pool', 'rs256-miss', 'es256-miss']);
    expect(config.targets).toEqual(['direct', 'passthrough', 'haproxy', 'sidecar']);
    expect(config.missPoolSize).toBe(30_000);
    expect(loadConfig({ BENCH_SCENARIOS: 'rs256-one,es256-miss' }).scenarios).toEqual([
      'rs256-one',
      'es256-miss',
    ]);
  });

  it.each([
    {
      name: 'a miss pool size',
      env: { BENCH_MISS_POOL_SIZE: '12000' },
      field: 'missPoolSize',
      value: 12_000,
    },
    { name: 'a raw verify budget', env: { BENCH_VERIFY_MS: '300' }, field: 'verifyCostMs', value: 300 },
    { name: 'the quick verify budget', env: { BENCH_QUICK: '1' }, field: 'verifyCostMs', value: 200 },
  ] as const)('reads $name', ({ env, field, value }) => {
    expect(loadConfig(env)[field]).toBe(value);
  });

  it.each([
    { name: 'a miss pool of zero', env: { BENCH_MISS_POOL_SIZE: '0' }, message: /BENCH_MISS_POOL_SIZE=0/ },
    { name: 'an unknown scenario', env: { BENCH_SCENARIOS: 'rs256-all' }, message: /unknown "rs256-all"/ },
  ])('refuses $name', ({ env, message }) => {
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('tells miss scenarios apart', () => {
    expect(isMissScenario('es256-miss')).toBe(true);
    expect(isMissScenario('es256-pool')).toBe(false);
  });

  it('plans the default run within ten minutes of measuring', () => {
    // 3 rounds × (16 runs × 8 s + 2 verify measurements of 0.5 s + 1 s) + 2 s + 5 s idle.
    expect(plannedSeconds(loadConfig({}))).toBe(397);
  });
});
