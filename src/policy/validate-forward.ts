/**
 * `spec.forwardClaims`: claims copied into request headers for the app. The proxy removes any
 * incoming copy of these headers, so a header name here must be one the proxy may own: never a
 * header that frames the message, routes it, or carries credentials.
 */
import {
  type Errors,
  type Obj,
  child,
  item,
  readList,
  readObject,
  readString,
  rejectUnknown,
} from './fields.js';

/** RFC 9110 field-name: a token. */
const FIELD_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Lower-case; compared case-insensitively, as header names are. */
export const FORBIDDEN_FORWARD_HEADERS: ReadonlySet<string> = new Set([
  'host',
  'authorization',
  'cookie',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'upgrade',
  'proxy-connection',
]);

export function checkForwardClaims(e: Errors, spec: Obj): void {
  const list = readList(e, spec, 'forwardClaims', 'spec', {});
  const headers = new Map<string, string>();
  list?.forEach((v, i) => {
    const path = item('spec.forwardClaims', i);
    const entry: Obj | undefined = readObject(e, v, path, true);
    if (entry === undefined) return;
    rejectUnknown(e, entry, path, ['claim', 'header']);
    readString(e, entry, 'claim', path, { required: true });
    const header = readString(e, entry, 'header', path, { required: true });
    if (header === undefined) return;
    const field = child(path, 'header');
    const lower = header.toLowerCase();
    if (!FIELD_NAME.test(header)) e.add(field, 'must be a valid HTTP header name (letters, digits, "-")');
    else if (FORBIDDEN_FORWARD_HEADERS.has(lower))
      e.add(field, `"${header}" is reserved: a routing, framing, credential or hop-by-hop header`);
    else if (headers.has(lower)) e.add(field, `duplicate header "${header}" (also ${headers.get(lower)})`);
    else headers.set(lower, field);
  });
}
