/**
 * Header hygiene between client, sidecar and app. RFC 9110 §7.6.1: hop-by-hop fields, and any
 * field a `Connection` header names, belong to one connection and are never forwarded.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { credentialsProblem } from '../token/credentials.js';
import {
  aliasesProtected,
  cgiKey,
  cgiKeys,
  isForwardingKey,
  isPlainName,
  isRewriteKey,
} from './header-names.js';

export const HOP_BY_HOP = new Set([
  // Not hop-by-hop, but answered by node itself (100-continue) and refused by undici.
  'expect',
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
]);

export type OutgoingHeaders = Record<string, string | string[]>;

export interface UpstreamHeaderOptions {
  /** `spec.http.allowUnderscoreHeaders`: forward names with `_` (default: dropped). */
  readonly allowUnderscores?: boolean;
  /** The peer is a trusted proxy: its forwarding headers are kept and extended. */
  readonly trustedPeer?: boolean;
  /** Keep a Bearer Authorization header: only for a verified token under `forwardToken`. */
  readonly keepToken?: boolean;
}

/** Is this Authorization value a Bearer credential (any case)? Other schemes pass to the app. */
function isBearer(value: string | undefined): boolean {
  if (value === undefined) return false;
  const v = value.trimStart();
  return (
    v.length >= 6 && v.slice(0, 6).toLowerCase() === 'bearer' && (v.length === 6 || /\s/.test(v[6] ?? ''))
  );
}

/**
 * An Authorization value the app must not get: a Bearer token the sidecar did not verify (any,
 * unless keepToken), or a value outside the credentials syntax, which an app could read a token
 * out of (`Bearer,abc`; refused in Enforce, forwarded without it in Audit).
 */
function unforwardedCredentials(value: string, opts: UpstreamHeaderOptions): boolean {
  if (isBearer(value)) return opts.keepToken !== true;
  return value !== '' && credentialsProblem(value) !== undefined;
}

/** RFC 7239 node: IPv6 addresses quoted and bracketed. */
function forwardedNode(address: string): string {
  return address.includes(':') ? `"[${address}]"` : address;
}

const UNDERSCORED = /^[a-z0-9_-]+$/;

/**
 * Whether a client header is dropped by its name (src/proxy/header-names.ts): a name with a
 * character other than letters, digits, `-` and `_` (nginx's `ignore_invalid_headers`: CGI and
 * PHP read `X.Auth.Subject` as `X-Auth-Subject`); a name with `_` unless allowed, and even then
 * when its CGI key is one the sidecar owns; the rewrite class (`X-Original-URL`) always; the
 * forwarding class unless the peer is trusted.
 */
function droppedName(name: string, stripKeys: ReadonlySet<string>, opts: UpstreamHeaderOptions): boolean {
  // node:http lower-cases names; a plain one is classified as it is (the classes accept `-` or `_`).
  if (!isPlainName(name)) {
    if (opts.allowUnderscores !== true || !UNDERSCORED.test(name)) return true;
    if (aliasesProtected(cgiKey(name), stripKeys)) return true;
  }
  if (isRewriteKey(name)) return true;
  return opts.trustedPeer !== true && isForwardingKey(name);
}

/**
 * Headers for the app: the client's minus hop-by-hop, minus every header the policy sets from
 * claims (a client must never be able to supply its own `X-Auth-Subject`), minus every name the
 * app could read as a header the sidecar owns (droppedName), minus a Bearer token the sidecar
 * has not verified (or any, unless keepToken), plus the claim headers and the forwarding headers
 * as the sidecar saw the connection (ADR 0007, ADR 0015).
 */
export function upstreamHeaders(
  incoming: IncomingHttpHeaders,
  stripped: ReadonlySet<string>,
  claimHeaders: readonly (readonly [string, string])[],
  clientAddress: string | undefined,
  opts: UpstreamHeaderOptions = {},
): OutgoingHeaders {
  const out: OutgoingHeaders = {};
  const connection = incoming.connection;
  const named =
    connection && connection !== 'keep-alive' && connection !== 'close'
      ? connectionTokens(connection)
      : undefined;
  const trusted = opts.trustedPeer === true;
  const stripKeys = cgiKeys(stripped);
  for (const name in incoming) {
    if (HOP_BY_HOP.has(name) || stripped.has(name) || named?.has(name)) continue;
    if (droppedName(name, stripKeys, opts)) continue;
    const value = incoming[name];
    if (value === undefined) continue;
    if (name === 'authorization' && unforwardedCredentials(String(value), opts)) continue;
    out[name] = value;
  }
  for (const [name, value] of claimHeaders) out[name] = value;
  if (clientAddress !== undefined) {
    const xff = trusted ? incoming['x-forwarded-for'] : undefined;
    const prior = Array.isArray(xff) ? xff.join(', ') : xff;
    out['x-forwarded-for'] = prior ? `${prior}, ${clientAddress}` : clientAddress;
    // From an untrusted peer, what it claimed is replaced by what the sidecar saw.
    if (!trusted) {
      if (incoming['x-real-ip'] !== undefined) out['x-real-ip'] = clientAddress;
      if (incoming.forwarded !== undefined) {
        const host = incoming.host === undefined ? '' : `;host="${incoming.host.replace(/["\\]/g, '')}"`;
        out.forwarded = `for=${forwardedNode(clientAddress)}${host};proto=http`;
      }
    } else if (incoming.forwarded !== undefined) {
      out.forwarded = `${incoming.forwarded}, for=${forwardedNode(clientAddress)}`;
    }
  }
  if (!trusted && incoming['x-forwarded-host'] !== undefined && incoming.host !== undefined) {
    out['x-forwarded-host'] = incoming.host;
  }
  const proto = trusted ? incoming['x-forwarded-proto'] : undefined;
  out['x-forwarded-proto'] = typeof proto === 'string' && proto !== '' ? proto : 'http';
  return out;
}

function connectionTokens(value: string): Set<string> {
  const set = new Set<string>();
  for (const token of value.split(',')) {
    const t = token.trim().toLowerCase();
    if (t) set.add(t);
  }
  return set;
}

/** Response headers for the client: the app's minus hop-by-hop (node frames the body itself). */
export function downstreamHeaders(incoming: Record<string, string | string[] | undefined>): OutgoingHeaders {
  const out: OutgoingHeaders = {};
  const connection = incoming.connection;
  // `keep-alive` / `close` name no other header (the common case: skip the split).
  const named =
    connection === undefined || connection === 'keep-alive' || connection === 'close'
      ? undefined
      : connectionTokens(Array.isArray(connection) ? connection.join(',') : connection);
  for (const name in incoming) {
    if (HOP_BY_HOP.has(name) || named?.has(name)) continue;
    const value = incoming[name];
    if (value !== undefined) out[name] = value;
  }
  return out;
}

/**
 * Request smuggling shapes that a front proxy and an app could read differently (RFC 9112
 * §6.3): Content-Length together with Transfer-Encoding, or Content-Length values that differ.
 * Returns a description when the request must be refused.
 */
export function smugglingShape(
  headers: IncomingHttpHeaders,
  rawHeaders: readonly string[],
): string | undefined {
  const te = headers['transfer-encoding'];
  if (te !== undefined) {
    if (headers['content-length'] !== undefined)
      return 'both Content-Length and Transfer-Encoding are present';
    if (te.trim().toLowerCase() !== 'chunked') return 'only Transfer-Encoding: chunked is accepted';
  }
  if (headers['content-length'] === undefined) return undefined;
  let contentLength: string | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i];
    if (name === undefined || name.length !== 14 || name.toLowerCase() !== 'content-length') continue;
    const value = rawHeaders[i + 1]?.trim();
    if (contentLength !== undefined && value !== contentLength) return 'Content-Length values differ';
    contentLength = value;
  }
  return undefined;
}
