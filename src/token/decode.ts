/**
 * Cheap decoding of a compact JWS before any key lookup or signature work (Envoy's order: every
 * local check first, so garbage costs a few string scans and never a fetch or an RSA verify).
 * The result is UNVERIFIED: verify.ts trusts nothing in it until the signature has been checked,
 * and uses it before that only to choose the algorithm, the issuer and the key.
 *
 * Header parameters that name a key (`jku`, `jwk`, `x5u`, `x5c`, `x5t`) are ignored on purpose:
 * a key only ever comes from the policy's key source, never from the token it is meant to check.
 */
import type { JWTPayload } from 'jose';
import type { Check } from '../core/reasons.js';

/** Tokens above this size are refused before decoding; real access tokens are 1–4 KiB. */
export const MAX_TOKEN_LENGTH = 16 * 1024;

export interface TokenHeader {
  readonly alg: string;
  readonly kid?: string;
  readonly typ?: string;
  readonly [parameter: string]: unknown;
}

export interface Decoded {
  readonly header: TokenHeader;
  /** Unverified until verify.ts says otherwise. */
  readonly payload: JWTPayload;
  /** base64url header `.` base64url payload: the bytes the signature covers. */
  readonly signedPart: string;
}

/** base64url alphabet value of each ASCII code, or -1. */
const B64URL = new Int8Array(128).fill(-1);
'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  .split('')
  .forEach((c, i) => (B64URL[c.charCodeAt(0)] = i));

const NOT_BASE64URL = /[^A-Za-z0-9_-]/;

const utf8 = new TextDecoder('utf-8', { fatal: true });

function malformed(description: string): Check<never> {
  return { ok: false, reason: 'malformed', description };
}

export function decodeToken(token: string): Check<Decoded> {
  if (token.length > MAX_TOKEN_LENGTH) {
    return malformed(`the token is longer than ${MAX_TOKEN_LENGTH} characters`);
  }
  const dot1 = token.indexOf('.');
  const dot2 = dot1 === -1 ? -1 : token.indexOf('.', dot1 + 1);
  if (dot2 === -1 || token.indexOf('.', dot2 + 1) !== -1) {
    return malformed('the token is not a compact JWS of three dot-separated parts');
  }
  if (dot1 === 0 || dot2 === dot1 + 1 || dot2 === token.length - 1) {
    return malformed('the token has an empty part (an unsigned token has an empty signature)');
  }
  const headerPart = token.slice(0, dot1);
  const known = headers.get(headerPart);
  // The header's text passed these checks before when it is remembered.
  if (known === undefined && !isStrictBase64url(token, 0, dot1)) {
    return malformed('the token header is not base64url');
  }
  if (!isStrictBase64url(token, dot1 + 1, dot2)) return malformed('the token payload is not base64url');
  if (!isStrictBase64url(token, dot2 + 1, token.length)) {
    return malformed('the token signature is not base64url');
  }
  const header = known ?? parseObject(headerPart);
  if (header === undefined) return malformed('the token header is not a JSON object');
  const payload = parseObject(token.slice(dot1 + 1, dot2));
  if (payload === undefined) return malformed('the token payload is not a JSON object');
  if (known === undefined) {
    const problem = headerProblem(header);
    if (problem !== undefined) return malformed(problem);
    remember(headerPart, header);
  }

  return {
    ok: true,
    value: { header: header as TokenHeader, payload, signedPart: token.slice(0, dot2) },
  };
}

/** Why a parsed header cannot be used, or undefined. A pure function of the header's text. */
function headerProblem(header: Record<string, unknown>): string | undefined {
  if (typeof header.alg !== 'string' || header.alg === '') return 'the token header has no alg';
  if (header.kid !== undefined && typeof header.kid !== 'string')
    return 'the token header kid is not a string';
  // RFC 7515 §4.1.11: a verifier that does not understand an extension listed in `crit` must
  // refuse the token. We implement none, so any `crit` is a refusal.
  if (header.crit !== undefined) return 'the token header has crit extensions, none is supported';
  // RFC 7797 unencoded payloads change what the signature covers (and need `crit` anyway).
  if (header.b64 !== undefined) return 'the token header has b64, unencoded payloads are not supported';
  return undefined;
}

/**
 * Headers that decoded and passed `headerProblem`, by their exact base64url text: the tokens of
 * one issuer share a handful of headers (alg, kid, typ), so a cache miss on a new token skips
 * the header's base64url scan, UTF-8 decoding and JSON.parse, and every cached token of one key
 * shares one header object. Sound because all of that is a pure function of the text, and only
 * an exact string match is reused. Frozen: one object serves many requests. Bounded in count
 * and in text length; when full it starts over (a stream of invented headers costs what it
 * would cost without the cache).
 */
const headers = new Map<string, TokenHeader>();
export const HEADER_CACHE_ENTRIES = 64;
export const HEADER_CACHE_MAX_LENGTH = 512;

function remember(text: string, header: Record<string, unknown>): void {
  if (text.length > HEADER_CACHE_MAX_LENGTH) return;
  if (headers.size >= HEADER_CACHE_ENTRIES) headers.clear();
  headers.set(text, Object.freeze(header) as TokenHeader);
}

/** How many headers are remembered now (for tests). */
export function rememberedHeaders(): number {
  return headers.size;
}

/**
 * Strict base64url over token[from, to): alphabet only, no padding, a length a base64 encoder
 * can produce, and zero trailing bits. The last rule makes the encoding canonical: without it
 * `…A` and `…B` could decode to the same bytes, a free second spelling of the same token.
 */
function isStrictBase64url(token: string, from: number, to: number): boolean {
  const len = to - from;
  if (len % 4 === 1) return false;
  // One native regexp scan (no u flag: any code unit outside the ASCII alphabet fails it).
  if (NOT_BASE64URL.test(token.slice(from, to))) return false;
  const rem = len % 4;
  if (rem < 2) return true;
  const last = B64URL[token.charCodeAt(to - 1)] ?? 0;
  // 2 chars carry 12 bits for 8 → low 4 bits unused; 3 chars carry 18 for 16 → low 2 unused.
  return rem === 2 ? (last & 0x0f) === 0 : (last & 0x03) === 0;
}

/** base64url → UTF-8 (strict) → JSON → plain object, or undefined. */
function parseObject(part: string): Record<string, unknown> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(Buffer.from(part, 'base64url')));
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  return value as Record<string, unknown>;
}
