/**
 * The layer order of docs/architecture.md, enforced: a module may import its own folder and
 * folders of a LOWER layer only, type imports included (a type import is still a dependency a
 * reader has to follow). Folders on the same layer do not import each other. Every folder under
 * src/ must be placed here, so a new folder is placed on purpose.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Lowest first. A folder's subfolders not listed here belong to it. */
export const LAYERS: readonly (readonly string[])[] = [
  ['src/core', 'src/log'],
  ['src/metrics', 'src/config'],
  ['src/policy'],
  ['src/distribution'],
  ['src/keys', 'src/revocation'],
  ['src/token', 'src/shared-store'],
  ['src/decide'],
  ['src/proxy', 'src/capture', 'src/operator/runtime'],
  ['src/sidecar/control-plane', 'src/operator/status'],
  ['src/sidecar', 'src/operator/revocation'],
  ['src/operator/policy'],
  ['src/operator/stream', 'src/operator/receivers'],
  ['src/operator/webhook'],
  ['src/operator/serving'],
  ['src/operator'],
  ['src/cli'],
];

/** The two binaries' halves never lean on each other, whatever their layers say. */
const APART: readonly (readonly [from: string, to: string])[] = [
  ['src/operator', 'src/decide'],
  ['src/operator', 'src/proxy'],
  ['src/operator', 'src/sidecar'],
  ['src/sidecar', 'src/operator'],
  ['src/proxy', 'src/operator'],
  ['src/decide', 'src/operator'],
];

const FOLDERS = LAYERS.flat();

function rank(folder: string): number {
  return LAYERS.findIndex((layer) => layer.includes(folder));
}

/** The listed folder a file belongs to: the longest listed prefix of its directory. */
function folderOf(file: string): string | undefined {
  let dir = path.posix.dirname(file);
  while (dir !== '.' && dir !== '') {
    if (FOLDERS.includes(dir)) return dir;
    dir = path.posix.dirname(dir);
  }
  return undefined;
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(path.join(ROOT, dir))) {
    const rel = `${dir}/${name}`;
    if (statSync(path.join(ROOT, rel)).isDirectory()) out.push(...walk(rel));
    else if (name.endsWith('.ts')) out.push(rel);
  }
  return out;
}

const IMPORT = /(?:\bfrom|\bimport)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g;

export function importsOf(file: string, text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[1] as string;
    out.push(path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)));
  }
  return out;
}

function within(file: string, folder: string): boolean {
  return file.startsWith(`${folder}/`);
}

/** Why `from` may not import `to`, or undefined when it may. */
export function violation(from: string, to: string): string | undefined {
  const a = folderOf(from);
  const b = folderOf(to);
  if (a === undefined || b === undefined) return undefined; // reported by the placement test
  for (const [x, y] of APART) {
    if (within(from, x) && within(to, y)) return `${x} must not import ${y}`;
  }
  if (a === b) return undefined;
  const ra = rank(a);
  const rb = rank(b);
  if (rb < ra) return undefined;
  return rb === ra ? `${a} and ${b} share a layer` : `${a} (layer ${ra}) imports higher ${b} (layer ${rb})`;
}

describe('layers', () => {
  const files = walk('src');

  it('places every source folder on a layer', () => {
    expect(files.filter((f) => folderOf(f) === undefined)).toEqual([]);
  });

  it('has no import from a lower layer to a higher one, type imports included', () => {
    const found: string[] = [];
    for (const file of files) {
      const text = readFileSync(path.join(ROOT, file), 'utf8');
      for (const target of importsOf(file, text)) {
        const why = violation(file, target);
        if (why !== undefined) found.push(`${file} → ${target}: ${why}`);
      }
    }
    expect(found).toEqual([]);
  });

  it.each([
    ['src/policy/rules.ts', 'src/policy/normalize.ts', undefined],
    ['src/decide/engine.ts', 'src/token/verify.ts', undefined],
    ['src/operator/policy/reconcile.ts', 'src/operator/runtime/queue.ts', undefined],
    [
      'src/metrics/sidecar.ts',
      'src/token/reasons.ts',
      'src/metrics (layer 1) imports higher src/token (layer 5)',
    ],
    [
      'src/policy/rules.ts',
      'src/proxy/normalize.ts',
      'src/policy (layer 2) imports higher src/proxy (layer 7)',
    ],
    ['src/keys/store.ts', 'src/revocation/set.ts', 'src/keys and src/revocation share a layer'],
    [
      'src/operator/runtime/queue.ts',
      'src/operator/policy/reconcile.ts',
      'src/operator/runtime (layer 7) imports higher src/operator/policy (layer 10)',
    ],
    ['src/operator/stream/x.ts', 'src/decide/state.ts', 'src/operator must not import src/decide'],
  ])('the rule itself: %s → %s', (from, to, why) => {
    expect(violation(from, to)).toBe(why);
  });

  it('sees type imports and multi-line imports', () => {
    const text = "import type {\n  A,\n  B,\n} from '../proxy/server.js';\nexport { c } from './c.js';";
    expect(importsOf('src/policy/x.ts', text)).toEqual(['src/proxy/server.js', 'src/policy/c.js']);
  });
});
