/**
 * What the decision needs to know about one request, read once from node:http: method, the
 * request target as received, every Authorization value, the client. The target is resolved
 * against the enforced policy by the decision itself (src/decide/request.ts), so the proxy and
 * `tokenwarden check` read paths the same way. A request whose framing cannot be trusted carries
 * a `problem` instead of being decided on guesswork, and its connection is closed.
 */
import type { IncomingMessage } from 'node:http';
import type { RequestFacts } from '../decide/request.js';
import { smugglingShape } from './headers.js';

/**
 * The facts of `req`. A `problem` here is always its framing (the target is judged by the
 * decision): answer, then close the connection rather than read on.
 */
export function readRequest(req: IncomingMessage): RequestFacts {
  return {
    method: req.method ?? 'GET',
    target: req.url ?? '/',
    authorization: authorizationValues(req.rawHeaders),
    client: req.socket.remoteAddress,
    problem: smugglingShape(req.headers, req.rawHeaders),
  };
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
