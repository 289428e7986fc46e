/**
 * Header hygiene between client, sidecar and app. RFC 9110 §7.6.1: hop-by-hop fields, and any
 * field a `Connection` header names, belong to one connection and are never forwarded.
 */
import type { IncomingHttpHeaders } from 'node:http';

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

/** Client-set forwarding headers: kept only from a trusted proxy (`spec.trustedProxies`). */
export const FORWARDING_HEADERS: ReadonlySet<string> = new Set([
  'x-forwarded-for',
  'forwarded',
  'x-real-ip',
  'x-forwarded-host',
]);

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

/** RFC 7239 node: IPv6 addresses quoted and bracketed. */
function forwardedNode(address: string): string {
  return address.includes(':') ? `"[${address}]"` : address;
}

/**
 * Headers for the app: the client's minus hop-by-hop, minus every header the policy sets from
 * claims (a client must never be able to supply its own `X-Auth-Subject`), minus any header
 * whose name has `_` (WSGI/CGI apps read `X_Auth_Subject` as `X-Auth-Subject`; with
 * allowUnderscores only those that alias a protected header after `_`→`-` are dropped), minus a
 * Bearer token the sidecar has not verified (or any, unless keepToken), plus the claim headers
 * and the forwarding headers as the sidecar saw the connection (ADR 0007).
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
  for (const name in incoming) {
    if (HOP_BY_HOP.has(name) || stripped.has(name) || named?.has(name)) continue;
    if (name.includes('_')) {
      if (opts.allowUnderscores !== true) continue;
      const alias = name.replace(/_/g, '-');
      if (stripped.has(alias) || FORWARDING_HEADERS.has(alias) || alias === 'authorization') continue;
    }
    if (!trusted && FORWARDING_HEADERS.has(name)) continue;
    const value = incoming[name];
    if (value === undefined) continue;
    if (name === 'authorization' && opts.keepToken !== true && isBearer(String(value))) continue;
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
