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

/**
 * Headers for the app: the client's minus hop-by-hop and minus every header the policy sets
 * from claims (a client must never be able to supply its own `X-Auth-Subject`), plus the
 * claim headers and X-Forwarded-*.
 */
export function upstreamHeaders(
  incoming: IncomingHttpHeaders,
  stripped: ReadonlySet<string>,
  claimHeaders: readonly (readonly [string, string])[],
  clientAddress: string | undefined,
): OutgoingHeaders {
  const out: OutgoingHeaders = {};
  const connection = incoming.connection;
  const named =
    connection && connection !== 'keep-alive' && connection !== 'close'
      ? connectionTokens(connection)
      : undefined;
  for (const name in incoming) {
    if (HOP_BY_HOP.has(name) || stripped.has(name) || named?.has(name)) continue;
    const value = incoming[name];
    if (value !== undefined) out[name] = value;
  }
  for (const [name, value] of claimHeaders) out[name] = value;
  const xff = incoming['x-forwarded-for'];
  if (clientAddress !== undefined) {
    const prior = Array.isArray(xff) ? xff.join(', ') : xff;
    out['x-forwarded-for'] = prior ? `${prior}, ${clientAddress}` : clientAddress;
  }
  out['x-forwarded-proto'] = 'http';
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
