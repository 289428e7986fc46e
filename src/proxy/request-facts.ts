/**
 * What the decision needs to know about one request, read once from node:http: method, the
 * normalised path (what rules match and what the app receives), the query, every Authorization
 * value, the client. A request whose framing or path cannot be trusted carries a `problem`
 * instead of being decided on guesswork, and its connection is closed when the framing is the
 * problem.
 */
import type { IncomingMessage } from 'node:http';
import type { RequestFacts } from '../decide/engine.js';
import { normalisePath } from '../policy/normalize.js';
import { smugglingShape } from './headers.js';

export interface ReadRequest {
  facts: RequestFacts;
  /** The framing is ambiguous: answer, then close the connection rather than read on. */
  close: boolean;
}

export function readRequest(req: IncomingMessage): ReadRequest {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const rawPath = q === -1 ? url : url.slice(0, q);
  const query = q === -1 ? '' : url.slice(q + 1);
  const facts: RequestFacts = {
    method: req.method ?? 'GET',
    path: rawPath,
    target: url,
    query,
    authorization: authorizationValues(req.rawHeaders),
    client: req.socket.remoteAddress,
  };
  const smuggling = smugglingShape(req.headers, req.rawHeaders);
  if (smuggling !== undefined) {
    facts.problem = smuggling;
    return { facts, close: true };
  }
  const normalised = normalisePath(rawPath);
  if (!normalised.ok) {
    facts.problem = normalised.description;
    return { facts, close: false };
  }
  facts.path = normalised.path;
  // The app sees the path the rules were matched against, never the raw one.
  facts.target = q === -1 ? normalised.path : `${normalised.path}?${query}`;
  return { facts, close: false };
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
