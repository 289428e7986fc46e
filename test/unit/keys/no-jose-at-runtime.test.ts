/**
 * The sidecar verifies with node:crypto alone (ADR 0004): no module it loads imports jose at run
 * time, so jose and WebCrypto never take memory in a sidecar. Type-only imports are erased by the
 * compiler and allowed. Static check over the import graph from cmd/sidecar.ts.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const RELATIVE = /(?:\bfrom|\bimport)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g;
/** A value import or re-export of jose (static or dynamic); `import type` / `export type` are erased. */
const JOSE_AT_RUNTIME =
  /(?:^|\n)\s*(?:import|export)\s+(?!type\b)[^;]*?from\s*['"]jose['"]|\bimport\s*\(\s*['"]jose['"]\s*\)/;

function reachable(entry: string): Set<string> {
  const seen = new Set<string>();
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const text = readFileSync(path.join(ROOT, file), 'utf8');
    for (const m of text.matchAll(RELATIVE)) {
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), m[1]!));
      queue.push(target.replace(/\.js$/, '.ts'));
    }
  }
  return seen;
}

describe('the sidecar without jose', () => {
  it('reaches the key and token modules from cmd/sidecar.ts, and none of its modules imports jose at run time', () => {
    const files = reachable('cmd/sidecar.ts');
    expect(files).toContain('src/keys/jwks.ts');
    expect(files).toContain('src/token/signature.ts');
    const offenders = [...files].filter((f) =>
      JOSE_AT_RUNTIME.test(readFileSync(path.join(ROOT, f), 'utf8')),
    );
    expect(offenders).toEqual([]);
  });

  it('tells a value import of jose from a type-only one', () => {
    expect(JOSE_AT_RUNTIME.test("import { importJWK, type JWK } from 'jose';")).toBe(true);
    expect(JOSE_AT_RUNTIME.test("import {\n  importJWK,\n} from 'jose';")).toBe(true);
    expect(JOSE_AT_RUNTIME.test("const jose = await import('jose');")).toBe(true);
    expect(JOSE_AT_RUNTIME.test("import type { JWK } from 'jose';")).toBe(false);
    expect(JOSE_AT_RUNTIME.test("import type {\n  JWK,\n  JWTPayload,\n} from 'jose';")).toBe(false);
  });
});
