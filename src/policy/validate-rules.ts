/**
 * `spec.rules`: which paths need no token, a token, a token with scopes and claims, or are
 * closed. Rule paths are matched against normalised request paths, so a rule path that is not
 * itself normal (`/admin//*`, `/%61dmin`) could never match: refused with the spelling to use.
 */
import { normalisePath } from './normalize.js';
import {
  type Errors,
  type Obj,
  checkString,
  child,
  isAbsent,
  item,
  readEnum,
  readList,
  readObject,
  readString,
  rejectUnknown,
} from './fields.js';
import type { RuleAction } from './types.js';

const RULE_FIELDS = ['name', 'paths', 'methods', 'action', 'requiredScopes', 'requiredClaims'];
const ACTIONS: readonly RuleAction[] = ['Allow', 'Authenticate', 'Deny'];
/**
 * The standard methods (RFC 9110 §9, RFC 5789): what a lower-case spelling is compared with for
 * its suggestion. Rules may name any method, extension methods (PROPFIND, SEARCH, QUERY, …)
 * included: a method-limited rule covers only what it names (and HEAD with GET).
 */
export const METHODS = [
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  'PATCH',
] as const;
const METHOD_SET: ReadonlySet<string> = new Set(METHODS);
/**
 * An RFC 9110 method token without lower-case letters: methods are case-sensitive (§9.1) and
 * node:http receives only upper-case ones, so a rule naming `get` or `propfind` would never match.
 */
export const METHOD_NAME = /^[-!#$%&'*+.^_`|~0-9A-Z]+$/;
/** Names people write for "every method", which no request carries. */
const EVERY_METHOD = new Set(['ANY', '*', 'ALL']);
export const MAX_METHOD_LENGTH = 32;
const EVERY = 'leave methods out to match every method';

/** Why a rule method name is unusable, or undefined. */
export function methodProblem(m: string): string | undefined {
  if (EVERY_METHOD.has(m.toUpperCase())) return `"${m}" is no method a request carries; ${EVERY}`;
  if (m.length > MAX_METHOD_LENGTH) return `must be at most ${MAX_METHOD_LENGTH} characters`;
  if (METHOD_NAME.test(m)) return undefined;
  const upper = m.toUpperCase();
  if (METHOD_NAME.test(upper)) {
    const known = METHOD_SET.has(upper) ? '' : ' (methods are case-sensitive; clients send them upper-case)';
    return `must be upper-case: "${upper}"${known}`;
  }
  return `must be an HTTP method name: letters, digits and !#$%&'*+-.^_\`|~ (e.g. GET, PROPFIND); ${EVERY}`;
}

/** RFC 6749 scope-token: what RFC 6750 lets us echo in the WWW-Authenticate `scope` parameter. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/** Why a rule path is unusable, or undefined. `*` only as a final `/*` (prefix match). */
function pathProblem(p: string): string | undefined {
  if (!p.startsWith('/')) return "must start with '/'";
  const star = p.indexOf('*');
  if (star !== -1 && (star !== p.length - 1 || !p.endsWith('/*')))
    return "may contain '*' only as a final '/*'";
  if (/[?#]/.test(p)) return 'must not contain a query or fragment';
  const base = star === -1 ? p : p.slice(0, -1);
  const n = normalisePath(base);
  if (!n.ok) return `cannot match any request: ${n.description}`;
  const suffix = star === -1 ? '' : '*';
  if (n.path !== base)
    return `cannot match any request as written: paths are matched normalised, write "${n.path}${suffix}"`;
  return undefined;
}

function checkPaths(e: Errors, rule: Obj, path: string): void {
  const paths = readList(e, rule, 'paths', path, {
    required: true,
    min: 1,
    none: 'must list at least one path',
  });
  paths?.forEach((v, i) => {
    const field = item(child(path, 'paths'), i);
    const p = checkString(e, v, field, { required: true });
    const problem = p === undefined ? undefined : pathProblem(p);
    if (problem !== undefined) e.add(field, problem);
  });
}

function checkMethods(e: Errors, rule: Obj, path: string): void {
  const none = 'must list at least one method, or be left out to match every method';
  const methods = readList(e, rule, 'methods', path, { min: 1, none });
  methods?.forEach((v, i) => {
    const field = item(child(path, 'methods'), i);
    const m = checkString(e, v, field, { required: true });
    const problem = m === undefined ? undefined : methodProblem(m);
    if (problem !== undefined) e.add(field, problem);
  });
}

/** requiredScopes / requiredClaims: only an Authenticate rule has a token to look into. */
function checkRequirements(e: Errors, rule: Obj, path: string, action: RuleAction | undefined): void {
  if (action !== undefined && action !== 'Authenticate') {
    for (const key of ['requiredScopes', 'requiredClaims']) {
      if (!isAbsent(rule[key]))
        e.add(child(path, key), `only allowed when action is Authenticate, not ${action}`);
    }
    return;
  }
  const scopes = readList(e, rule, 'requiredScopes', path, {});
  scopes?.forEach((v, i) => {
    const field = item(child(path, 'requiredScopes'), i);
    const scope = checkString(e, v, field, { required: true });
    if (scope !== undefined && !SCOPE_TOKEN.test(scope)) {
      e.add(field, 'must be one scope: printable ASCII without spaces, quotes or backslashes');
    }
  });
  const claimsPath = child(path, 'requiredClaims');
  const claims = readObject(e, rule.requiredClaims, claimsPath, false);
  if (claims === undefined) return;
  for (const [claim, value] of Object.entries(claims)) {
    if (claim === '') e.add(claimsPath, 'claim names must not be empty');
    else checkString(e, value, child(claimsPath, claim), { required: true });
  }
}

export function checkRules(e: Errors, spec: Obj): void {
  const rules = readList(e, spec, 'rules', 'spec', {});
  const names = new Map<string, string>();
  rules?.forEach((v, i) => {
    const path = item('spec.rules', i);
    const rule = readObject(e, v, path, true);
    if (rule === undefined) return;
    rejectUnknown(e, rule, path, RULE_FIELDS);
    const name = readString(e, rule, 'name', path, { required: true });
    if (name !== undefined) {
      const first = names.get(name);
      if (first !== undefined) e.add(child(path, 'name'), `duplicate rule name "${name}" (also ${first})`);
      else names.set(name, child(path, 'name'));
    }
    checkPaths(e, rule, path);
    checkMethods(e, rule, path);
    const action = readEnum(e, rule, 'action', path, ACTIONS);
    // An invalid action is already reported; checking its requirements too would only add noise.
    if (action !== undefined || isAbsent(rule.action)) checkRequirements(e, rule, path, action);
  });
}
