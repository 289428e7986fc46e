/**
 * docs/architecture.md is the map a newcomer reads first: every repository path it names must
 * exist, so a file moved or renamed without the map changing fails here.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const ROOTS = ['src', 'test', 'docs', 'bench', 'hack', 'cmd', 'charts', 'crds'];
const PATH = new RegExp(`\\b(?:${ROOTS.join('|')})/[A-Za-z0-9_./-]*[A-Za-z0-9_]`, 'g');

/** Every path-looking token under one of the repository's top folders, once each. */
function namedPaths(markdown: string): string[] {
  return [...new Set(markdown.match(PATH) ?? [])].sort();
}

describe('docs/architecture.md', () => {
  const doc = readFileSync('docs/architecture.md', 'utf8');

  it('finds the paths it names (the extractor itself)', () => {
    expect(namedPaths('see `src/a/b.ts`, src/c/ and (test/unit/x.test.ts).')).toEqual([
      'src/a/b.ts',
      'src/c',
      'test/unit/x.test.ts',
    ]);
  });

  it('names only paths that exist in the repository', () => {
    const paths = namedPaths(doc);
    expect(paths.length).toBeGreaterThan(20);
    expect(paths.filter((p) => !existsSync(p))).toEqual([]);
  });
});
