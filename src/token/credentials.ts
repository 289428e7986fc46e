/**
 * The syntax of an Authorization value (RFC 9110 §11.4), checked on every path, Allow rules
 * included: `auth-scheme [ 1*SP ( token68 / #auth-param ) ]`. A value outside it is read
 * differently by every parser (`Bearer,abc` is no Bearer credential to the sidecar, and `abc` to
 * an app that splits on `[ ,]`), so it is refused rather than passed on. A scheme that begins
 * with `Bearer` but is not `Bearer` (`Bearerabc`, `Bearer_x`) is refused as well: apps that test
 * `startsWith('Bearer')` read a token out of it. Linear scans, no backtracking.
 */

const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;

/** RFC 9110 tchar, by code point. */
const TCHARS = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
  TCHARS[c.charCodeAt(0)] = 1;

function isTchar(c: string | undefined): boolean {
  if (c === undefined) return false;
  const code = c.charCodeAt(0);
  return code < 128 && TCHARS[code] === 1;
}

/** Why this Authorization value is refused, or undefined when it is valid credentials. */
export function credentialsProblem(value: string): string | undefined {
  const len = value.length;
  let i = 0;
  while (i < len && isTchar(value[i])) i++;
  if (i === 0) return 'an Authorization value that does not start with a scheme';
  const scheme = value.slice(0, i).toLowerCase();
  if (scheme !== 'bearer' && scheme.startsWith('bearer'))
    return 'an Authorization scheme that begins with Bearer but is not Bearer';
  if (i === len) return undefined;
  if (value[i] !== ' ') return 'an Authorization scheme followed by something other than a space';
  while (i < len && value[i] === ' ') i++;
  const rest = value.slice(i);
  if (rest === '' || TOKEN68.test(rest)) return undefined;
  return authParams(rest) ? undefined : 'an Authorization value that is neither a token68 nor auth-params';
}

/** `#auth-param`: `token BWS "=" BWS ( token / quoted-string )`, comma-separated with OWS. */
function authParams(s: string): boolean {
  const len = s.length;
  let i = 0;
  const ows = (): void => {
    while (i < len && (s[i] === ' ' || s[i] === '\t')) i++;
  };
  let params = 0;
  while (i < len) {
    ows();
    if (s[i] === ',') {
      i++;
      continue;
    }
    const nameStart = i;
    while (i < len && isTchar(s[i])) i++;
    if (i === nameStart) return false;
    ows();
    if (s[i] !== '=') return false;
    i++;
    ows();
    if (s[i] === '"') {
      i++;
      while (i < len && s[i] !== '"') {
        const c = s.charCodeAt(i);
        if (c === 0x5c /* \ */) i++;
        else if ((c < 0x20 && c !== 0x09) || c === 0x7f) return false;
        i++;
      }
      if (i >= len) return false;
      i++;
    } else {
      const valueStart = i;
      while (i < len && isTchar(s[i])) i++;
      if (i === valueStart) return false;
    }
    params++;
    ows();
    if (i < len && s[i] !== ',') return false;
  }
  return params > 0;
}

/** The first problem among every Authorization value of a request, or undefined. */
export function authorizationProblem(values: readonly string[]): string | undefined {
  for (const v of values) {
    if (v === '') continue; // an empty value carries no credentials: nothing to read differently
    const problem = credentialsProblem(v);
    if (problem !== undefined) return problem;
  }
  return undefined;
}
