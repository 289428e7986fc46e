/**
 * Request path normalisation: the one form path rules are matched against, so `/healthz/../admin`
 * and `/%61dmin` are both `/admin`, and the form the app receives. Principle (ADR 0007): the
 * path the rules match is exactly the path the app receives, and a form that common frameworks
 * (Spring/Tomcat, Express, Flask/Werkzeug/Django, Go net/http, ASP.NET/IIS) read differently is
 * refused (the caller answers 400) or canonicalised, never forwarded ambiguous.
 *
 * Steps, in order:
 *  1. percent-decode unreserved characters only (ALPHA DIGIT - . _ ~); other escapes keep their
 *     meaning and get upper-case hex (`%3f` → `%3F`), so one resource has one spelling. Escapes
 *     of bytes ≥ 0x80 must form valid UTF-8 (no overlong or truncated sequences), and the
 *     characters they spell must be NFKC-stable: `%EF%BC%8E` (fullwidth `.`), `%EF%BC%8F`
 *     (fullwidth `/`), `%E2%84%AA` (Kelvin sign) fold to ASCII in apps that apply NFKC and are
 *     refused, while `%C3%A9` (é) is kept as written;
 *  2. matrix parameters (`;…` in a segment, raw or `%3B`, which servlet containers strip before
 *     routing): refused, or with `matrixParameters: Strip` removed from every segment;
 *  3. resolve dot segments (RFC 3986 5.2.4), including `%2e`-spelled ones (decoded in step 1);
 *     `..` at the root is clamped there as the RFC says: `/../x` is `/x`;
 *  4. fold repeated slashes: `/a//b` is `/a/b` (a trailing slash is kept: `/a/` is not `/a`).
 *
 * Refused: no leading `/`; `#` (a fragment: Node's and browsers' URL parsers drop it); `%25` (an
 * escaped `%`, decoded twice by some stacks); `%2F` or `%5C` (an encoded separator some apps
 * split on and some do not); a raw `\` (Windows-style servers treat it as `/`); `%00` or any raw
 * or encoded control character; a malformed escape; raw non-ASCII; a dot segment carrying a `;`
 * parameter (`..;`, which servlet containers resolve as `..`: the `/public/..;/admin` bypass);
 * a segment ending in `.` or whitespace (`/admin./x`, `/admin%20/x`: IIS and Windows drop them).
 */
import type { MatrixParameters } from './types.js';

export type Normalised = { ok: true; path: string } | { ok: false; description: string };

export interface NormaliseOptions {
  /** What a `;` parameter in a segment does: Reject (default) or Strip. */
  readonly matrixParameters?: MatrixParameters;
}

const SLASH = 0x2f;
const DOT = 0x2e;
const PERCENT = 0x25;
const BACKSLASH = 0x5c;
const SEMICOLON = 0x3b;
const HASH = 0x23;

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
const utf8 = new TextDecoder('utf-8', { fatal: true });

function refuse(description: string): Normalised {
  return { ok: false, description };
}

/**
 * True when the path is already normal and safe: no escapes, no `\`, `;` or `#`, no forbidden
 * character, no empty segment, no segment starting or ending with a dot. The common case,
 * checked without allocating.
 */
function isAlreadyNormal(raw: string): boolean {
  let prev = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === PERCENT || c === BACKSLASH || c === SEMICOLON || c === HASH || isForbiddenRaw(c)) return false;
    if (prev === SLASH && (c === SLASH || c === DOT)) return false;
    if (c === SLASH && prev === DOT) return false;
    prev = c;
  }
  return prev !== DOT;
}

/** A run of escapes of bytes ≥ 0x80 starting at `i`: valid UTF-8, NFKC-stable, or a refusal. */
function nonAsciiRun(raw: string, i: number): { end: number; text: string } | Normalised {
  const bytes: number[] = [];
  let j = i;
  while (raw.charCodeAt(j) === PERCENT) {
    const hi = hexValue(raw.charCodeAt(j + 1));
    const lo = hexValue(raw.charCodeAt(j + 2));
    if (hi < 0 || lo < 0) return refuse('invalid percent-encoding in path');
    const byte = hi * 16 + lo;
    if (byte < 0x80) break;
    bytes.push(byte);
    j += 3;
  }
  let decoded: string;
  try {
    decoded = utf8.decode(Uint8Array.from(bytes));
  } catch {
    return refuse('percent-encoded bytes that are not valid UTF-8 in path');
  }
  if (decoded.normalize('NFKC') !== decoded) {
    return refuse('a character with a compatibility (NFKC) form in path, e.g. a fullwidth letter or dot');
  }
  let text = '';
  for (const b of bytes) text += `%${HEX[b >> 4]}${HEX[b & 15]}`;
  return { end: j, text };
}

/** Step 1: decode unreserved escapes, canonicalise the others, refuse the dangerous ones. */
function decodeUnreserved(raw: string): string | Normalised {
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === BACKSLASH) return refuse('backslash in path');
    if (c === HASH) return refuse("fragment ('#') in the request target");
    if (isForbiddenRaw(c)) return refuse('control or non-ASCII character in path');
    if (c !== PERCENT) {
      out += raw[i];
      continue;
    }
    const hi = hexValue(raw.charCodeAt(i + 1));
    const lo = hexValue(raw.charCodeAt(i + 2));
    if (hi < 0 || lo < 0) return refuse('invalid percent-encoding in path');
    const byte = hi * 16 + lo;
    if (byte >= 0x80) {
      const run = nonAsciiRun(raw, i);
      if ('ok' in run) return run;
      out += run.text;
      i = run.end - 1;
      continue;
    }
    if (byte === PERCENT) return refuse("encoded '%' (%25) in path");
    if (byte === SLASH || byte === BACKSLASH) return refuse('encoded slash or backslash in path');
    if (byte < 0x20 || byte === 0x7f) return refuse('encoded control character in path');
    out += isUnreserved(byte) ? String.fromCharCode(byte) : `%${HEX[hi]}${HEX[lo]}`;
    i += 2;
  }
  return out;
}

/** Where the first `;` parameter of a segment starts (raw or `%3B`), or -1. */
function parameterStart(segment: string): number {
  const raw = segment.indexOf(';');
  const encoded = segment.indexOf('%3B');
  if (raw === -1) return encoded;
  return encoded === -1 ? raw : Math.min(raw, encoded);
}

/** `..;x`, `.;`, `..%3B`: parameters on a dot segment; see the module comment. */
function isDotWithParameter(segment: string): boolean {
  const rest = segment.startsWith('..') ? segment.slice(2) : segment.startsWith('.') ? segment.slice(1) : '';
  return rest.startsWith(';') || rest.startsWith('%3B');
}

/** A segment IIS/Windows would shorten: ending in `.` or whitespace (`%20`, `%09`). */
function endsAmbiguously(segment: string): boolean {
  return segment.endsWith('.') || segment.endsWith('%20') || segment.endsWith('%09');
}

/** Steps 2 to 4 on a decoded path that starts with `/`. */
function resolveSegments(decoded: string, matrix: MatrixParameters): string | Normalised {
  const parts = decoded.split('/');
  const out: string[] = [];
  let trailingSlash = false;
  // parts[0] is the empty string before the leading '/'.
  for (let i = 1; i < parts.length; i++) {
    let segment = parts[i] ?? '';
    const last = i === parts.length - 1;
    trailingSlash = false;
    const param = parameterStart(segment);
    if (param !== -1) {
      // Refused in both modes: stripping would turn `..;x` into a traversal.
      if (isDotWithParameter(segment)) return refuse('dot segment with a parameter in path');
      if (matrix === 'Reject') return refuse("matrix parameter (';') in path");
      segment = segment.slice(0, param);
    }
    if (segment === '' || segment === '.') {
      trailingSlash = last;
    } else if (segment === '..') {
      out.pop();
      trailingSlash = last;
    } else if (endsAmbiguously(segment)) {
      return refuse('path segment ending in a dot or whitespace');
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
export function normalisePath(rawPath: string, opts: NormaliseOptions = {}): Normalised {
  if (rawPath.charCodeAt(0) !== SLASH) return refuse("path must start with '/'");
  if (isAlreadyNormal(rawPath)) return { ok: true, path: rawPath };
  const decoded = decodeUnreserved(rawPath);
  if (typeof decoded !== 'string') return decoded;
  const resolved = resolveSegments(decoded, opts.matrixParameters ?? 'Reject');
  if (typeof resolved !== 'string') return resolved;
  return { ok: true, path: resolved };
}

/** Any non-ASCII character in a normalised path (escaped: `%` followed by a hex digit 8–F). */
export function hasNonAscii(path: string): boolean {
  for (let i = path.indexOf('%'); i !== -1; i = path.indexOf('%', i + 1)) {
    if (hexValue(path.charCodeAt(i + 1)) >= 8) return true;
  }
  return false;
}
