/**
 * The chart installs the CRDs from charts/tokenwarden/crds/, which must be exact copies of crds/
 * (the source of truth). Fix a failure with `bash hack/sync-crds.sh`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const source = join(root, 'crds');
const chart = join(root, 'charts/tokenwarden/crds');
const yamlFiles = (dir: string): string[] =>
  readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort();

describe('chart CRDs', () => {
  it('are the same files as crds/ (run hack/sync-crds.sh)', () => {
    expect(yamlFiles(chart)).toEqual(yamlFiles(source));
  });

  it.each(yamlFiles(source))('%s is a byte-for-byte copy (run hack/sync-crds.sh)', (file) => {
    const copy = readFileSync(join(chart, file), 'utf8');
    expect(
      copy === readFileSync(join(source, file), 'utf8'),
      `charts/tokenwarden/crds/${file} differs from crds/${file}`,
    ).toBe(true);
  });
});
