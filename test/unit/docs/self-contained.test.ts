/**
 * The repository is read by people who have only the repository: its code, tests and docs may
 * point at files in it (docs/…, an ADR) but never at the design card or the style guide the
 * project started from, nor at tracker issue numbers, which a clone does not carry.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOTS = ['src', 'test', 'docs', 'bench', 'hack', 'cmd', 'charts', 'crds', '.ci', 'README.md'];
const TEXT = /\.(ts|mts|mjs|js|md|sh|ya?ml|json|tpl|txt|env)$|^run$|^Dockerfile$/;
const THIS_FILE = 'test/unit/docs/self-contained.test.ts';

/** Outside references: DESIGN.md, STYLE.md, "issue 8", "Issue #12" (not "issuer" or "issued"). */
export const OUTSIDE = /\b(?:DESIGN|STYLE)\.md\b|\b[Ii]ssues? #?\d+\b/;

function files(path: string): string[] {
  const st = statSync(path, { throwIfNoEntry: false });
  if (st === undefined) return [];
  if (st.isFile()) return TEXT.test(path.split('/').pop() ?? '') ? [path] : [];
  return readdirSync(path)
    .filter((n) => n !== 'node_modules' && n !== 'testdata' && !n.startsWith('.image'))
    .flatMap((n) => files(join(path, n)));
}

describe('the repository cites only itself', () => {
  it('the pattern catches each form and spares ordinary words', () => {
    for (const s of ['see DESIGN.md', 'STYLE.md says', '(issue 8, point 1)', 'Issue #12', 'issues 9'])
      expect(s).toMatch(OUTSIDE);
    for (const s of ['the issuer 8', 'issued 12 s ago', 'an issue with the API', 'docs/adr/0008.md'])
      expect(s).not.toMatch(OUTSIDE);
  });

  it('no source, test, doc, chart or script names the design card, the style guide or an issue number', () => {
    const offenders: string[] = [];
    for (const f of ROOTS.flatMap(files)) {
      if (f === THIS_FILE) continue;
      readFileSync(f, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (OUTSIDE.test(line)) offenders.push(`${f}:${i + 1}: ${line.trim().slice(0, 100)}`);
        });
    }
    expect(offenders).toEqual([]);
  });
});
