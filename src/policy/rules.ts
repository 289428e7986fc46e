/**
 * Rule matching on the request path: first match wins; no match means Authenticate (the caller
 * decides that). Runs on every request, so it allocates nothing: Set lookups, indexed loops and
 * `startsWith`, no slicing.
 */
import type { CompiledRule } from './types.js';

/**
 * Does `path` fall under the prefix of a `/x/*` pattern (kept as `/x/`)? Everything under `/x/`
 * does, and `/x` itself; `/xy` does not. `/*` (prefix `/`) matches every path.
 */
export function matchesPrefix(prefix: string, path: string): boolean {
  if (path.startsWith(prefix)) return true;
  // `/x` against `/x/`: the path is the prefix without its trailing slash.
  return path.length === prefix.length - 1 && prefix.startsWith(path);
}

function matchesPath(rule: CompiledRule, path: string): boolean {
  if (rule.exact.has(path)) return true;
  const prefixes = rule.prefixes;
  for (let i = 0; i < prefixes.length; i++) {
    if (matchesPrefix(prefixes[i] as string, path)) return true;
  }
  return false;
}

/**
 * The first rule whose methods (if any) include `method` and whose paths match
 * `normalisedPath`, which must come from normalisePath (src/policy/normalize.ts): matching a raw
 * path would let `/public/../admin` slip past a rule on `/admin/*`.
 */
export function matchRule(
  rules: readonly CompiledRule[],
  normalisedPath: string,
  method: string,
): CompiledRule | undefined {
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i] as CompiledRule;
    if (rule.methods !== undefined && !rule.methods.has(method)) continue;
    if (matchesPath(rule, normalisedPath)) return rule;
  }
  return undefined;
}
