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
 * Does a rule's method list cover `method`? HEAD is GET without the body (RFC 9110 §9.3.2), and
 * node:http, Express and most routers run the GET handler for it, so a rule naming GET covers
 * HEAD: a Deny on GET must not let HEAD through. Methods are compared exactly (case-sensitive,
 * RFC 9110 §9.1); an unnamed method never matches a method-limited rule.
 */
export function coversMethod(methods: ReadonlySet<string>, method: string): boolean {
  return methods.has(method) || (method === 'HEAD' && methods.has('GET'));
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
    if (rule.methods !== undefined && !coversMethod(rule.methods, method)) continue;
    if (matchesPath(rule, normalisedPath)) return rule;
  }
  return undefined;
}
