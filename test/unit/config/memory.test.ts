import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config/listen.js';
import {
  DEFAULT_MEMORY_BUDGET_BYTES,
  MAX_MEMORY_BUDGET_BYTES,
  MIN_MEMORY_BUDGET_BYTES,
  parseQuantity,
  planMemory,
} from '../../../src/config/memory.js';
import { parseSidecarArgs, type SidecarConfig } from '../../../src/config/sidecar.js';
import { semiSpaceFromArgs } from '../../../src/sidecar/v8-settings.js';

const MiB = 1024 * 1024;

describe('parseQuantity: --memory-budget values', () => {
  it.each([
    ['100663296', 100663296],
    ['96Mi', 96 * MiB],
    ['1Gi', 1024 * MiB],
    ['98304Ki', 96 * MiB],
    ['100M', 100e6],
    ['2G', 2e9],
    ['500k', 500e3],
  ])('%s is %d bytes', (text, bytes) => {
    expect(parseQuantity('memory-budget', text)).toBe(bytes);
  });

  it.each(['', '96MB', '96mi', '-1', '1.5Gi', 'Mi', '96 Mi', '0x10', '1e9'])(
    '"%s" is refused with an error naming the flag',
    (text) => {
      expect(() => parseQuantity('memory-budget', text)).toThrow(ConfigError);
      expect(() => parseQuantity('memory-budget', text)).toThrow(/--memory-budget/);
    },
  );

  it('any integer with a binary suffix round-trips (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 999_999 }), fc.constantFrom('', 'Ki', 'Mi', 'Gi'), (n, unit) => {
        const factor = { '': 1, Ki: 1024, Mi: MiB, Gi: 1024 * MiB }[unit];
        expect(parseQuantity('memory-budget', `${n}${unit}`)).toBe(n * factor);
      }),
    );
  });
});

describe('planMemory: what the budget sizes', () => {
  it('the default 96Mi: 6 MiB token cache, 12 MiB reuse store, 2 MiB semi-spaces', () => {
    expect(planMemory(DEFAULT_MEMORY_BUDGET_BYTES)).toEqual({
      budgetBytes: 96 * MiB,
      tokenCacheBytes: 6 * MiB,
      reuseStoreBytes: 12 * MiB,
      semiSpaceMiB: 2,
    });
  });

  it.each([
    [64, 1],
    [96, 2],
    [128, 2],
    [192, 4],
    [384, 8],
    [768, 16],
    [4096, 16],
  ])('%d MiB → %d MiB semi-spaces', (budget, semi) => {
    expect(planMemory(budget * MiB).semiSpaceMiB).toBe(semi);
  });

  it('the caches never take more than half the budget, and the semi-space is a power of two (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: MIN_MEMORY_BUDGET_BYTES, max: MAX_MEMORY_BUDGET_BYTES }), (budget) => {
        const plan = planMemory(budget);
        expect(plan.tokenCacheBytes + plan.reuseStoreBytes).toBeLessThanOrEqual(budget / 2);
        expect(Number.isInteger(Math.log2(plan.semiSpaceMiB))).toBe(true);
        expect(plan.semiSpaceMiB).toBeGreaterThanOrEqual(1);
        expect(plan.semiSpaceMiB).toBeLessThanOrEqual(16);
      }),
    );
  });

  it('explicit cache sizes override their share but may not exceed half the budget', () => {
    expect(planMemory(96 * MiB, { tokenCacheBytes: MiB }).tokenCacheBytes).toBe(MiB);
    expect(() => planMemory(96 * MiB, { reuseStoreBytes: 64 * MiB })).toThrow(
      /exceed half of --memory-budget/,
    );
  });

  it('a budget the process cannot live in, or an absurd one, is refused', () => {
    expect(() => planMemory(32 * MiB)).toThrow(/--memory-budget/);
    expect(() => planMemory(64 * 1024 * MiB)).toThrow(/--memory-budget/);
  });
});

describe('--memory-budget on the command line', () => {
  const base = ['--policy', '/tmp/p.yaml', '--upstream', 'http://127.0.0.1:8080'];
  const parse = (args: string[], env: NodeJS.ProcessEnv = {}): SidecarConfig => {
    const parsed = parseSidecarArgs([...base, ...args], env);
    if (parsed.help) throw new Error('help');
    return parsed.config;
  };

  it('sizes the caches when they are not given', () => {
    const c = parse(['--memory-budget', '256Mi']);
    expect(c.memory.semiSpaceMiB).toBe(4);
    expect(c.tokenCacheBytes).toBe(16 * MiB);
    expect(c.reuseStoreBytes).toBe(32 * MiB);
  });

  it('is read from TOKENWARDEN_MEMORY_BUDGET (the injected sidecar: the container limit in bytes)', () => {
    expect(parse([], { TOKENWARDEN_MEMORY_BUDGET: String(128 * MiB) }).memory.budgetBytes).toBe(128 * MiB);
    expect(parse(['--memory-budget', '64Mi'], { TOKENWARDEN_MEMORY_BUDGET: '1Gi' }).memory.budgetBytes).toBe(
      64 * MiB,
    );
  });

  it('from the environment (the Downward API), a limit outside the range is clamped, not fatal', () => {
    expect(parse([], { TOKENWARDEN_MEMORY_BUDGET: String(32 * MiB) }).memory.budgetBytes).toBe(
      MIN_MEMORY_BUDGET_BYTES,
    );
    // no limit on the container: the Downward API reports the node's memory
    expect(parse([], { TOKENWARDEN_MEMORY_BUDGET: String(256 * 1024 * MiB) }).memory.budgetBytes).toBe(
      MAX_MEMORY_BUDGET_BYTES,
    );
    expect(semiSpaceFromArgs([], { TOKENWARDEN_MEMORY_BUDGET: String(256 * 1024 * MiB) })).toBe(16);
    expect(() => parse(['--memory-budget', '32Mi'])).toThrow(/--memory-budget/);
  });

  it('an explicit --token-cache-bytes wins over the budget share', () => {
    expect(parse(['--token-cache-bytes', '1048576']).tokenCacheBytes).toBe(MiB);
  });

  it('a bad value is a ConfigError naming the flag', () => {
    expect(() => parse(['--memory-budget', 'lots'])).toThrow(/--memory-budget/);
  });

  it('the early reader (before the flag parser loads) agrees with the parser, and falls back to the default on garbage', () => {
    for (const args of [
      [],
      ['--memory-budget', '256Mi'],
      ['--memory-budget=1Gi'],
      ['--memory-budget', '64Mi'],
    ]) {
      expect(semiSpaceFromArgs([...base, ...args], {})).toBe(parse(args).memory.semiSpaceMiB);
    }
    expect(semiSpaceFromArgs(['--memory-budget', 'lots'], {})).toBe(2);
    expect(semiSpaceFromArgs([], { TOKENWARDEN_MEMORY_BUDGET: '384Mi' })).toBe(8);
  });
});
