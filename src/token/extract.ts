/**
 * Extractor (Envoy's role name): finds the one bearer token of a request, or says why the request
 * is malformed. Runs on every request: the scheme is compared with charCodeAt, the token is
 * checked with one negated character class (a linear scan: no backtracking to exploit), and the
 * only allocation is the slice that is the token.
 *
 * Syntax (RFC 6750 §2.1): `Bearer` (any case) SP b64token, b64token = 1*( ALPHA / DIGIT /
 * "-" / "." / "_" / "~" / "+" / "/" ) *"=". RFC 7235 allows several SP after the scheme; we
 * accept exactly one, which is what every client sends, and refuse the rest as malformed
 * rather than guess.
 */
import { credentialsProblem } from './credentials.js';
import { pathCarriesToken, queryCarriesToken } from './params.js';

export type Extracted =
  { kind: 'none' } | { kind: 'token'; token: string } | { kind: 'malformed'; description: string };

const NONE: Extracted = Object.freeze({ kind: 'none' });

const SCHEME = 'bearer';
const SP = 0x20;
const HTAB = 0x09;
const EQUALS = 0x3d;

function malformed(description: string): Extracted {
  return { kind: 'malformed', description };
}

/**
 * @param authorization the Authorization header(s) as the HTTP layer saw them: a string[]
 *   carries every occurrence (node:http keeps only the first, so the proxy must pass the raw
 *   ones for the duplicate check to mean anything).
 * @param rawQuery the query string of the request target, with or without its leading `?`.
 * @param rawPath the path as received, for a token in a `;` path parameter (`/x;access_token=…`).
 *
 * A token parameter is any spelling the app's framework reads as `access_token`
 * (src/token/params.ts: `Access_Token`, `access.token`, `access_token[]`, `%61ccess_token`).
 */
export function extractToken(
  authorization: string | readonly string[] | undefined,
  rawQuery: string,
  rawPath = '',
): Extracted {
  let header: string | undefined;
  if (typeof authorization !== 'string' && authorization !== undefined) {
    // "If a request has several tokens, all must be valid" (Envoy) would need a verdict per
    // token; RFC 6750 simply forbids more than one method, so two headers are refused whole.
    if (authorization.length > 1) return malformed('more than one Authorization header');
    header = authorization[0];
  } else {
    header = authorization;
  }
  const query = rawQuery.charCodeAt(0) === 0x3f /* ? */ ? rawQuery.slice(1) : rawQuery;
  const inPath = pathCarriesToken(rawPath);
  const inQuery = inPath || queryCarriesToken(query);
  const fromHeader = header === undefined || header === '' ? NONE : parseAuthorization(header);
  if (inQuery) {
    if (fromHeader.kind === 'token') {
      return malformed(
        `a token in both the Authorization header and the access_token ${inPath ? 'path' : 'query'} parameter`,
      );
    }
    // URIs end up in access logs, browser history and Referer headers: a token there is
    // already leaked, so it is refused rather than used (RFC 6750 §2.3 is a MAY).
    return malformed(
      inPath
        ? 'tokens in an access_token path parameter are not accepted; use the Authorization header'
        : 'tokens in the access_token query parameter are not accepted; use the Authorization header',
    );
  }
  return fromHeader;
}

/** `Bearer <b64token>` → token; another scheme (Basic, Negotiate, …) → none; broken Bearer → malformed. */
function parseAuthorization(header: string): Extracted {
  const len = header.length;
  // The scheme ends at the first whitespace (or the end of the header).
  let i = 0;
  while (i < len && header.charCodeAt(i) !== SP && header.charCodeAt(i) !== HTAB) i++;
  if (i !== SCHEME.length || !isBearer(header)) {
    // Not our scheme: the request carries no bearer token. Whether Basic credentials are
    // acceptable is a rule's business (an Allow rule), not the extractor's. A value outside the
    // RFC 9110 credentials syntax (`Bearer,abc`, `Bearerabc`) is malformed, whatever its scheme.
    const problem = credentialsProblem(header);
    return problem === undefined ? NONE : malformed(problem);
  }
  if (i === len) return malformed('the Bearer scheme without a token');
  if (header.charCodeAt(i) === HTAB) return malformed('a tab after Bearer; the separator is one space');
  const start = i + 1;
  if (start === len) return malformed('the Bearer scheme without a token');
  const first = header.charCodeAt(start);
  if (first === SP || first === HTAB) return malformed('more than one space after Bearer');
  const token = header.slice(start);
  // One native character-class scan (linear, no backtracking possible), then the `=` padding,
  // which may only close the token. Both were a charCodeAt loop; this is ~3× cheaper per request.
  if (OUTSIDE_B64TOKEN.test(token)) return malformed(OUTSIDE);
  const eq = token.indexOf('=');
  if (eq !== -1) {
    if (eq === 0) return malformed(OUTSIDE);
    for (let k = eq + 1; k < token.length; k++) if (token.charCodeAt(k) !== EQUALS) return malformed(OUTSIDE);
  }
  return { kind: 'token', token };
}

const OUTSIDE = 'the bearer token contains a character outside the b64token syntax';
/** Any character that is neither b64token nor its `=` padding. */
const OUTSIDE_B64TOKEN = /[^A-Za-z0-9\-._~+/=]/;

/** Case-insensitive "bearer" over the first six characters, without lowercasing a copy. */
function isBearer(header: string): boolean {
  for (let k = 0; k < SCHEME.length; k++) {
    // ASCII letters only: OR-ing 0x20 lowercases A–Z and leaves a–z alone.
    if ((header.charCodeAt(k) | 0x20) !== SCHEME.charCodeAt(k)) return false;
  }
  return true;
}
