/**
 * Query and path parameter names as the app's framework reads them, so that the parameters the
 * sidecar refuses or strips are every spelling an app would read as them (ADR 0003, ADR 0015).
 *
 * `paramKey` folds what the common frameworks fold: `+` is a space and escapes are decoded
 * (every form decoder); ASCII case (ASP.NET and others match names case-insensitively); leading
 * and trailing whitespace; PHP's array suffix (`access_token[]`, `access_token[x]`: both are the
 * variable `access_token`); and every other character that is not a letter or digit becomes `_`
 * (PHP turns ` `, `.` and an unmatched `[` in a name into `_`: `access.token` is `access_token`).
 * Parameters are split on `&` and on `;`, which older Python, Go and Java decoders also treat as a
 * separator. Runs on every request with a query, so the common query (no `access`, `method` or
 * escape in it) is answered by one scan without splitting.
 */

/** RFC 6750 §2.3: the parameter that carries a bearer token. */
export const TOKEN_PARAM = 'access_token';
/** Rails, Laravel, Symfony, Express method-override: the parameter that names another method. */
export const METHOD_PARAM = '_method';

const MAYBE_INTERESTING = /access|method|%/i;

/** A parameter name as frameworks read it (see the module comment). */
export function paramKey(rawName: string): string {
  const decoded = lenientDecode(rawName.replace(/\+/g, ' ')).trim();
  let name = decoded;
  const open = name.indexOf('[');
  if (open > 0 && name.indexOf(']', open) !== -1) name = name.slice(0, open);
  let out = '';
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 0) break; // C-based decoders end the name at NUL
    const letter = (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a;
    const digit = c >= 0x30 && c <= 0x39;
    out += letter ? String.fromCharCode(c | 0x20) : digit ? name[i] : '_';
  }
  return out;
}

/** Percent-decoding that keeps a malformed escape as written (PHP's and most decoders' way). */
function lenientDecode(s: string): string {
  if (!s.includes('%')) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (c === '%' && /^[0-9A-Fa-f]{2}$/.test(s.slice(i + 1, i + 3))) {
      const byte = parseInt(s.slice(i + 1, i + 3), 16);
      out += byte < 0x80 ? String.fromCharCode(byte) : '\ufffd';
      i += 2;
    } else out += c;
  }
  return out;
}

/** One parameter of a query: where it starts and ends, its name's key, its raw value. */
interface Param {
  readonly start: number;
  readonly end: number;
  readonly key: string;
  readonly value: string;
}

function* params(query: string): Generator<Param> {
  const len = query.length;
  let start = 0;
  while (start <= len) {
    let end = start;
    while (end < len && query.charCodeAt(end) !== 0x26 /* & */ && query.charCodeAt(end) !== 0x3b /* ; */)
      end++;
    const eq = query.indexOf('=', start);
    const nameEnd = eq === -1 || eq > end ? end : eq;
    yield { start, end, key: paramKey(query.slice(start, nameEnd)), value: query.slice(nameEnd + 1, end) };
    start = end + 1;
  }
}

/** The query (without `?`) has a parameter that frameworks read as `access_token`. */
export function queryCarriesToken(query: string): boolean {
  if (query === '' || !MAYBE_INTERESTING.test(query)) return false;
  for (const p of params(query)) if (p.key === TOKEN_PARAM) return true;
  return false;
}

/** The methods `_method` parameters name (decoded, upper case), or none. */
export function queryMethodOverrides(query: string): string[] {
  if (query === '' || !MAYBE_INTERESTING.test(query)) return [];
  const out: string[] = [];
  for (const p of params(query)) {
    if (p.key === METHOD_PARAM) out.push(lenientDecode(p.value.replace(/\+/g, ' ')).trim().toUpperCase());
  }
  return out;
}

/**
 * The query without every parameter frameworks read as `access_token`: the app never receives a
 * token the sidecar did not verify. Returns `query` itself when there is none.
 */
export function withoutTokenParams(query: string): string {
  if (!queryCarriesToken(query)) return query;
  let out = '';
  for (const p of params(query)) {
    if (p.key === TOKEN_PARAM) continue;
    // Each kept parameter keeps the separator it had (`&` or `;`), so the rest reads the same.
    out += (out === '' ? '' : query.charAt(p.start - 1)) + query.slice(p.start, p.end);
  }
  return out;
}

/**
 * The path has a `;` parameter (raw or `%3B`) that frameworks read as `access_token`:
 * `/x;access_token=…`. Matrix parameters are refused or stripped by path normalisation; this
 * says the request carried a token in its URI, refused like one in the query.
 */
export function pathCarriesToken(rawPath: string): boolean {
  if (!rawPath.includes(';') && !/%3b/i.test(rawPath)) return false;
  for (const segment of rawPath.replace(/%3b/gi, ';').split('/')) {
    const parts = segment.split(';');
    for (let i = 1; i < parts.length; i++) {
      const part = parts[i] as string;
      const eq = part.indexOf('=');
      if (paramKey(eq === -1 ? part : part.slice(0, eq)) === TOKEN_PARAM) return true;
    }
  }
  return false;
}
