/**
 * The docs that quote a flag's default quote the flag tables (src/config/*-flags.ts): the
 * README's hardening table and docs/contracts/in-cluster.md. A default changed in a table and
 * not in the docs fails here.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { FlagSpec, FlagTable } from '../../../src/config/flags.js';
import { OPERATOR_FLAGS } from '../../../src/config/operator.js';
import { SIDECAR_FLAGS } from '../../../src/config/sidecar.js';

const read = (file: string): string =>
  readFileSync(fileURLToPath(new URL(`../../../${file}`, import.meta.url)), 'utf8');

/** The ways a doc may write a default: as the table does, with thousands separators, or in s/KiB. */
function spellings(f: FlagSpec): string[] {
  if (f.defaultText !== undefined) return [f.defaultText];
  const d = f.default;
  if (typeof d !== 'number') return d === undefined ? [] : [d];
  const out = [String(d), d.toLocaleString('en-US')];
  if (f.unit === 'ms' && d % 1000 === 0) out.push(`${d / 1000} s`);
  if (f.unit === 'bytes' && d % 1024 === 0) out.push(`${d / 1024} KiB`);
  if (f.unit === 'bytes/s' && d % 1024 === 0) out.push(`${d / 1024} KiB/s`);
  return out;
}

function flag(tables: FlagTable[], name: string): FlagSpec | undefined {
  return tables.map((t) => t[name]).find((f) => f !== undefined);
}

/** Rows whose value is derived from a flag (the budget), not that flag's default. */
const DERIVED = ['V8 young generation'];

describe('README: hardening defaults', () => {
  const section = read('README.md').split('## Hardening: defaults and options')[1]!.split('\n## ')[0]!;
  const rows = section
    .split('\n')
    .filter((l) => l.startsWith('| ') && /`--[a-z-]+`/.test(l))
    .map((l) => l.split('|').map((c) => c.trim()))
    .filter((r) => !DERIVED.includes(r[1]!));

  it('has rows naming sidecar flags', () => {
    expect(rows.length).toBeGreaterThan(8);
  });

  it.each(rows.map((r) => [r[3]!, r[2]!] as const))('%s: %s', (flags, text) => {
    for (const [, name] of flags.matchAll(/`--([a-z-]+)`/g)) {
      const f = flag([SIDECAR_FLAGS], name!);
      expect(f, `--${name} is a sidecar flag`).toBeDefined();
      const ways = spellings(f!);
      expect(ways.length, `--${name} has a default`).toBeGreaterThan(0);
      expect(
        ways.some((w) => text.includes(w)),
        `README gives --${name} a default other than ${ways.join(' / ')}`,
      ).toBe(true);
    }
  });
});

describe('docs/contracts/in-cluster.md: flag defaults', () => {
  const doc = read('docs/contracts/in-cluster.md');
  const quoted = [...doc.matchAll(/`--([a-z-]+)[^`]*`[^`\n]{0,30}?default `([^`]+)`/g)].map(
    (m) => [m[1]!, m[2]!] as const,
  );

  it('quotes some defaults', () => {
    expect(quoted.length).toBeGreaterThan(2);
  });

  it.each(quoted)('--%s default %s', (name, value) => {
    const f = flag([SIDECAR_FLAGS, OPERATOR_FLAGS], name);
    expect(f).toBeDefined();
    expect(spellings(f!)).toContain(value);
  });
});
