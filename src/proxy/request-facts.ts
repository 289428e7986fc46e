/**
 * What the decision needs to know about one request, read once from node:http: method, the
 * request target as received, every Authorization value, the client. The target is resolved
 * against the enforced policy by the decision itself (src/decide/request.ts), so the proxy and
 * `tokenwarden check` read paths the same way. A request whose framing cannot be trusted carries
 * a `problem` instead of being decided on guesswork, and its connection is closed.
 */
import type { IncomingMessage } from 'node:http';
import type { RequestFacts } from '../decide/request.js';
import { cgiKey, isMethodOverrideKey } from './header-names.js';
import { smugglingShape } from './headers.js';
import { hostProblem } from './host.js';

/**
 * The facts of `req`. A `problem` here is always its framing (the target is judged by the
 * decision): answer, then close the connection rather than read on.
 */
export function readRequest(req: IncomingMessage): RequestFacts {
  const method = req.method ?? 'GET';
  const host = req.headers.host;
  return {
    method,
    target: req.url ?? '/',
    authorization: authorizationValues(req.rawHeaders),
    client: req.socket.remoteAddress,
    problem:
      smugglingShape(req.headers, req.rawHeaders) ??
      (host === undefined ? undefined : hostProblem(host)) ??
      methodOverride(method, req.rawHeaders),
  };
}

/**
 * A method-override header (src/proxy/header-names.ts, any spelling the app reads as one) that
 * names another method than the request's: Express, Symfony, Laravel, ASP.NET and others would
 * run that method, and the rules matched this one. Refused rather than stripped: the client
 * meant the other method, and an app that honours the header would silently run the wrong one.
 * One naming the request's own method changes nothing and passes.
 */
function methodOverride(method: string, raw: readonly string[]): string | undefined {
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    // Every override name starts with `x` and is 6 to 22 characters long: most names stop here.
    if ((name.charCodeAt(0) | 0x20) !== 0x78 || name.length < 6 || name.length > 22) continue;
    if (!isMethodOverrideKey(cgiKey(name))) continue;
    const value = (raw[i + 1] ?? '').trim().toUpperCase();
    if (value !== method) return `a method-override header (${name}) naming another method than ${method}`;
  }
  return undefined;
}

const NO_VALUES: readonly string[] = Object.freeze([]);

/**
 * Every Authorization value in order: node:http keeps only the first in `req.headers`, and RFC
 * 6750 allows one token per request, so the extractor must see them all to refuse a second one.
 */
function authorizationValues(raw: readonly string[]): readonly string[] {
  let out: string[] | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    if (name !== undefined && name.length === 13 && name.toLowerCase() === 'authorization') {
      (out ??= []).push(raw[i + 1] ?? '');
    }
  }
  return out ?? NO_VALUES;
}
