/**
 * The start of every decision, shared by the proxy (engine.ts) and `tokenwarden check`
 * (explain.ts): the request as read from the wire (`RequestFacts`), resolved against the
 * enforced policy in one place (`resolveRequest`): split the target, normalise the path with the
 * policy's path options, refuse non-ASCII under case-insensitive matching, fold case, match the
 * rule. Whatever the proxy and `check` disagree about at this door, they disagree about nothing.
 */
import { hasNonAscii, normalisePath } from '../policy/normalize.js';
import { matchRule } from '../policy/rules.js';
import type { CompiledPolicy, CompiledRule } from '../policy/types.js';
import { extractToken, type Extracted } from '../token/extract.js';
import { queryMethodOverrides, withoutTokenParams } from '../token/params.js';

/** One request as read from the wire, before any policy is applied. */
export interface RequestFacts {
  readonly method: string;
  /** The request target as received (origin form: path and query), not normalised. */
  readonly target: string;
  /** Every Authorization header value, in order (node:http keeps only the first). */
  readonly authorization: readonly string[];
  readonly client: string | undefined;
  /**
   * Set when the request's framing cannot be trusted (a smuggling shape): refused as
   * `malformed` in every mode, Audit included.
   */
  readonly problem?: string | undefined;
}

/** A request resolved against a policy: what the rules match and what the app receives. */
export interface ResolvedRequest {
  readonly facts: RequestFacts;
  /** The normalised path (what rules match); the raw path when the request is refused. */
  readonly path: string;
  /** What the app receives: the normalised path plus the original query. */
  readonly target: string;
  /** The query as received, without its `?`. */
  readonly query: string;
  /** The first matching rule; undefined: none (Authenticate), or the request is refused. */
  readonly rule: CompiledRule | undefined;
  /**
   * Why the request itself is refused (`malformed` in every mode: its framing or target is
   * ambiguous), or undefined.
   */
  readonly problem: string | undefined;
}

/** Path options when no policy is enforced yet: the strictest reading. */
const STRICT = { matrixParameters: 'Reject', caseInsensitive: false } as const;

/**
 * Resolves `facts` against `policy` (undefined: none enforced yet; the target is still checked,
 * with the strictest path options, so an unsafe path is a 400 before a policy is loaded too).
 * Allocates the result only: an already-normal path is used as received.
 */
export function resolveRequest(policy: CompiledPolicy | undefined, facts: RequestFacts): ResolvedRequest {
  const raw = facts.target;
  const q = raw.indexOf('?');
  const rawPath = q === -1 ? raw : raw.slice(0, q);
  const query = q === -1 ? '' : raw.slice(q + 1);
  if (facts.problem !== undefined) return refused(facts, rawPath, query, facts.problem);
  if (query.includes('#')) return refused(facts, rawPath, query, "fragment ('#') in the request target");
  const overridden = methodOverridden(facts.method, query);
  if (overridden !== undefined) return refused(facts, rawPath, query, overridden);
  const paths = policy?.paths ?? STRICT;
  const normalised = normalisePath(rawPath, paths);
  if (!normalised.ok) return refused(facts, rawPath, query, normalised.description);
  const path = normalised.path;
  // A case-insensitive router may fold non-ASCII letters onto ASCII ones (ı → I): refused.
  if (paths.caseInsensitive && hasNonAscii(path)) {
    return refused(facts, rawPath, query, 'non-ASCII path under case-insensitive matching');
  }
  // caseInsensitive: rule paths were lower-cased at compile time; the app still gets `target`.
  const rule =
    policy === undefined
      ? undefined
      : matchRule(policy.rules, paths.caseInsensitive ? path.toLowerCase() : path, facts.method);
  // The app sees the path the rules were matched against, never the raw one, and no token
  // parameter in any spelling its framework reads as `access_token` (src/token/params.ts).
  const forwardQuery = withoutTokenParams(query);
  const target =
    path === rawPath && forwardQuery === query
      ? raw
      : q === -1 || forwardQuery === ''
        ? path
        : `${path}?${forwardQuery}`;
  return { facts, path, target, query, rule, problem: undefined };
}

/**
 * A `_method` query parameter (any spelling, src/token/params.ts) naming another method: Laravel,
 * Symfony and Express's method-override would run that method, the rules matched this one.
 * Refused like the override headers (src/proxy/request-facts.ts).
 */
function methodOverridden(method: string, query: string): string | undefined {
  for (const named of queryMethodOverrides(query)) {
    if (named !== method) return `a _method query parameter naming another method than ${method}`;
  }
  return undefined;
}

function refused(facts: RequestFacts, rawPath: string, query: string, problem: string): ResolvedRequest {
  return { facts, path: rawPath, target: facts.target, query, rule: undefined, problem };
}

/** The request's one bearer token (Authorization or `access_token`), or why there is none. */
export function requestToken(r: ResolvedRequest): Extracted {
  const raw = r.facts.target;
  const q = raw.indexOf('?');
  return extractToken(r.facts.authorization, r.query, q === -1 ? raw : raw.slice(0, q));
}
