/**
 * The sidecar's memory-lean V8 settings, applied from inside the process however it was
 * started (the `tokenwarden` bin, the image, `node dist/cmd/tokenwarden.js`): no NODE_OPTIONS
 * needed. Three settings, measured in bench/README.md and ADR 0008:
 *
 * 1. WebAssembly compiled by Liftoff only. undici parses the app's responses with llhttp
 *    compiled to WebAssembly; V8 first compiles it with Liftoff, then recompiles the hot parser
 *    with TurboFan in the background, and that compilation's scratch memory (≈ 30 MiB, kept by
 *    the allocator afterwards) was the largest single item of the sidecar's peak RSS. V8 reads
 *    these flags when it compiles a module, which happens at the first upstream connection, so
 *    setting them at start-up takes effect. The Liftoff code parses a response head in
 *    microseconds either way (no CPU difference visible in the benchmark).
 *
 * 2. A capped young generation. Node 20's default lets each of the two semi-spaces grow to 16 MiB under load: 32 MiB of RSS
 * that a sidecar serving small requests does not need (bench/README.md). `--max-semi-space-size`
 * only works on the command line (V8 reads it once, when the heap is set up), but V8 reads
 * `--semi-space-growth-factor` each time it grows the young generation, and a factor of 1 means
 * "do not grow". So: let V8 grow the semi-space up to the cap, then set the factor to 1; if V8
 * shrinks it again (idle), allow growth back up to the cap. The size is checked after every
 * garbage collection (a `gc` PerformanceObserver), because V8 only ever resizes the young
 * generation during one; the next growth step needs a full semi-space of survivors, several
 * scavenges later. (A 250 ms timer was measured to overshoot: 2 → 4 → 8 MiB within one period.)
 *
 * 3. Old-generation headroom. After a full GC, V8 lets the old generation grow by a factor it
 *    picks (up to 4× for a small heap) before the next one. Under load the sidecar's old space
 *    was measured swinging between 18 and 36 MiB around 11–15 MiB of live data: the largest
 *    swing left in its peak RSS. A fixed factor of 1.5 (`--heap-growing-percent`, read by V8
 *    each time it sets the next limit) keeps it near 22 MiB, for a full GC every few seconds
 *    under load instead of every ten.
 *
 * test/blackbox/memory.test.ts loads the real sidecar, started with no node flags, until V8
 * would have grown the young generation, and reads its size from /metrics: a Node/V8 upgrade
 * that stops honouring the flag fails the suite instead of silently costing 30 MiB per pod.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import {
  DEFAULT_MEMORY_BUDGET_BYTES,
  MAX_MEMORY_BUDGET_BYTES,
  MIN_MEMORY_BUDGET_BYTES,
  parseQuantity,
  planMemory,
} from '../config/memory.js';

const MiB = 1024 * 1024;

/** Bytes of the young generation (both semi-spaces) as V8 reports it. */
function youngGenerationBytes(): number {
  for (const space of getHeapSpaceStatistics()) {
    if (space.space_name === 'new_space') return space.space_size;
  }
  return 0;
}

/** Setting 1. */
function liftoffOnly(): void {
  setFlagsFromString('--liftoff-only');
  // Stated too, in case the V8 in use does not apply --liftoff-only's implications at run time.
  setFlagsFromString('--no-wasm-tier-up');
  setFlagsFromString('--no-wasm-dynamic-tiering');
}

/**
 * Setting 2: keeps each semi-space at most `semiSpaceMiB` (a power of two ≥ 1). Returns a
 * function that lifts the cap (restores V8's default growth).
 */
function capYoungGeneration(semiSpaceMiB: number): () => void {
  if (!(semiSpaceMiB >= 1)) throw new RangeError(`semiSpaceMiB must be ≥ 1, got ${semiSpaceMiB}`);
  const capBytes = 2 * semiSpaceMiB * MiB;
  let growing: boolean | undefined;
  const set = (grow: boolean): void => {
    if (growing === grow) return;
    growing = grow;
    setFlagsFromString(`--semi-space-growth-factor=${grow ? 2 : 1}`);
  };
  const check = (): void => set(youngGenerationBytes() < capBytes);
  check();
  // V8 starts at one 1 MiB semi-space: a 1 MiB cap needs no watching.
  const observer = semiSpaceMiB > 1 ? new PerformanceObserver(check) : undefined;
  observer?.observe({ entryTypes: ['gc'] });
  return () => {
    observer?.disconnect();
    set(true);
  };
}

/** Setting 3. */
function boundOldGeneration(): void {
  setFlagsFromString('--heap-growing-percent=50');
}

let lift: (() => void) | undefined;

/**
 * Everything above, sized from the memory plan. Called first thing by `tokenwarden sidecar`
 * (before its modules load: loading them alone grew the young generation to 8 MiB), and again
 * with the parsed configuration; the later call replaces the earlier one.
 */
export function applySidecarV8Settings(semiSpaceMiB: number): void {
  liftoffOnly();
  boundOldGeneration();
  lift?.();
  lift = capYoungGeneration(semiSpaceMiB);
}

/**
 * The semi-space size for `argv`/`env` as the full flag parser will decide it, read before that
 * parser is loaded. Lenient: anything it cannot read gives the default, and the parser then
 * reports the error.
 */
export function semiSpaceFromArgs(argv: readonly string[], env: NodeJS.ProcessEnv): number {
  let raw = env.TOKENWARDEN_MEMORY_BUDGET;
  let clamp = true;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--memory-budget') raw = argv[i + 1];
    else if (arg.startsWith('--memory-budget=')) raw = arg.slice('--memory-budget='.length);
    else continue;
    clamp = false;
  }
  try {
    let budget =
      raw === undefined || raw === '' ? DEFAULT_MEMORY_BUDGET_BYTES : parseQuantity('memory-budget', raw);
    if (clamp) budget = Math.min(MAX_MEMORY_BUDGET_BYTES, Math.max(MIN_MEMORY_BUDGET_BYTES, budget));
    return planMemory(budget).semiSpaceMiB;
  } catch {
    return planMemory(DEFAULT_MEMORY_BUDGET_BYTES).semiSpaceMiB;
  }
}
