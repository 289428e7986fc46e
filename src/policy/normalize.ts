/**
 * Request path normalisation: the one form path rules are matched against, so `/healthz/../admin`
 * and `/%61dmin` are both `/admin`. Anything that could be read two ways by the proxy and the
 * app behind it is refused (the caller answers 400) rather than guessed at.
 *
 * Steps, in order:
 *  1. percent-decode unreserved characters only (ALPHA DIGIT - . _ ~); other escapes keep their
 *     meaning and get upper-case hex (`%3b` → `%3B`), so one resource has one spelling;
 *  2. resolve dot segments (RFC 3986 5.2.4), including `%2e`-spelled ones (decoded in step 1);
 *     `..` at the root is clamped there as the RFC says: `/../x` is `/x`;
 *  3. fold repeated slashes: `/a//b` is `/a/b` (a trailing slash is kept: `/a/` is not `/a`).
 *
 * Refused: no leading `/`; `%2F` or `%5C` (an encoded separator some apps split on and some do
 * not); a raw `\` (Windows-style servers treat it as `/`); `%00` or any raw or encoded control
 * character; a malformed escape; raw non-ASCII; a dot segment carrying a `;` parameter (`..;`),
 * which servlet containers resolve as `..` (the classic `/public/..;/admin` bypass).
 */

export type Normalised = { ok: true; path: string } | { ok: false; description: string };

const SLASH = 0x2f;
const DOT = 0x2e;
const PERCENT = 0x25;
const BACKSLASH = 0x5c;

/** Unreserved set of RFC 3986 2.3, by code point. */
function isUnreserved(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) || // a-z
    (c >= 0x41 && c <= 0x5a) || // A-Z
    (c >= 0x30 && c <= 0x39) || // 0-9
    c === 0x2d || // -
    c === DOT ||
    c === 0x5f || // _
    c === 0x7e // ~
  );
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/** Raw control characters, DEL and anything outside ASCII. */
function isForbiddenRaw(c: number): boolean {
  return c < 0x20 || c >= 0x7f;
}

const HEX = '0123456789ABCDEF';

function refuse(description: string): Normalised {
  return { ok: false, description };
}

/**
 * True when the path is already normal and safe: no escapes, no `\`, no forbidden character, no
 * empty segment and no segment starting with a dot. The common case, checked without allocating.
 */
function isAlreadyNormal(raw: string): boolean {
  let prev = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === PERCENT || c === BACKSLASH || isForbiddenRaw(c)) return false;
    if (prev === SLASH && (c === SLASH || c === DOT)) return false;
    prev = c;
  }
  return true;
}

/** Step 1: decode unreserved escapes, canonicalise the others, refuse the dangerous ones. */
function decodeUnreserved(raw: string): string | Normalised {
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === BACKSLASH) return refuse('backslash in path');
    if (isForbiddenRaw(c)) return refuse('control or non-ASCII character in path');
    if (c !== PERCENT) {
      out += raw[i];
      continue;
    }
    const hi = hexValue(raw.charCodeAt(i + 1));
    const lo = hexValue(raw.charCodeAt(i + 2));
    if (hi < 0 || lo < 0) return refuse('invalid percent-encoding in path');
    const byte = hi * 16 + lo;
    if (byte === SLASH || byte === BACKSLASH) return refuse('encoded slash or backslash in path');
    if (byte < 0x20 || byte === 0x7f) return refuse('encoded control character in path');
    out += isUnreserved(byte) ? String.fromCharCode(byte) : `%${HEX[hi]}${HEX[lo]}`;
    i += 2;
  }
  return out;
}

/** `..;x`, `.;`, `..%3B`: parameters on a dot segment; see the module comment. */
function isDotWithParameter(segment: string): boolean {
  const rest = segment.startsWith('..') ? segment.slice(2) : segment.startsWith('.') ? segment.slice(1) : '';
  return rest.startsWith(';') || rest.startsWith('%3B');
}

/** Steps 2 and 3 on a decoded path that starts with `/`. */
function resolveSegments(decoded: string): string | Normalised {
  const parts = decoded.split('/');
  const out: string[] = [];
  let trailingSlash = false;
  // parts[0] is the empty string before the leading '/'.
  for (let i = 1; i < parts.length; i++) {
    const segment = parts[i] ?? '';
    const last = i === parts.length - 1;
    trailingSlash = false;
    if (segment === '' || segment === '.') {
      trailingSlash = last;
    } else if (segment === '..') {
      out.pop();
      trailingSlash = last;
    } else if (isDotWithParameter(segment)) {
      return refuse('dot segment with a parameter in path');
    } else {
      out.push(segment);
    }
  }
  if (out.length === 0) return '/';
  return `/${out.join('/')}${trailingSlash ? '/' : ''}`;
}

/**
 * Normalises the path of a request target (query already split off). Returns the input string
 * itself, unallocated, when it is already normal.
 */
export function normalisePath(rawPath: string): Normalised {
  if (rawPath.charCodeAt(0) !== SLASH) return refuse("path must start with '/'");
  if (isAlreadyNormal(rawPath)) return { ok: true, path: rawPath };
  const decoded = decodeUnreserved(rawPath);
  if (typeof decoded !== 'string') return decoded;
  const resolved = resolveSegments(decoded);
  if (typeof resolved !== 'string') return resolved;
  return { ok: true, path: resolved };
}
