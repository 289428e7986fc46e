/**
 * The Host header as the app may read it. RFC 9112 §3.2 makes Host the authority of the target
 * URI, `host [ ":" port ]` of RFC 3986 §3.2.2. Apps build absolute URLs, pick virtual hosts and
 * match allowed-host lists from it, each with its own parser: a value outside the grammar is read
 * differently by each (`a,b` is two values to a list parser, `a%2Fadmin` is `a/admin` once
 * decoded, `a"b` breaks out of a quoted `Forwarded` host). Accepted: an IPv6 literal in brackets,
 * or a name of RFC 3986 unreserved characters (letters, digits, `-` `.` `_` `~`, which covers
 * every DNS name and IPv4 address), then optionally `:` and a port of 1–5 digits up to 65535.
 * RFC 3986 also allows sub-delimiters (`!$&'()*+,;=`) and percent-escapes in a reg-name; no DNS
 * name or address has them and they are what parsers disagree on, so they are refused too, as are
 * IPvFuture literals, zone identifiers, an empty port and an empty Host.
 */
import { isIPv6 } from 'node:net';

/** Longest DNS name (253) plus brackets and a port. */
const MAX_HOST = 261;
const NAME = /^[A-Za-z0-9._~-]+$/;
const PORT = /^[0-9]{1,5}$/;

/** Why this Host value is refused, or undefined when it is a valid `host[:port]`. */
export function hostProblem(host: string): string | undefined {
  if (host === '') return 'an empty Host header';
  if (host.length > MAX_HOST) return 'a Host header longer than a DNS name and port';
  let name: string;
  let port: string | undefined;
  if (host.charCodeAt(0) === 0x5b /* [ */) {
    const close = host.indexOf(']');
    if (close === -1) return 'a Host header with an unclosed IPv6 literal';
    const literal = host.slice(1, close);
    if (!isIPv6(literal) || literal.includes('%')) return 'a Host header with an invalid IPv6 literal';
    const rest = host.slice(close + 1);
    if (rest !== '' && rest.charCodeAt(0) !== 0x3a /* : */)
      return 'a Host header with text after the IPv6 literal';
    name = literal;
    port = rest === '' ? undefined : rest.slice(1);
  } else {
    const colon = host.indexOf(':');
    name = colon === -1 ? host : host.slice(0, colon);
    port = colon === -1 ? undefined : host.slice(colon + 1);
    if (!NAME.test(name)) return 'a Host header that is not a host name, IPv4 or bracketed IPv6 address';
  }
  if (port !== undefined && (!PORT.test(port) || Number(port) > 65535)) {
    return 'a Host header with a port that is not a number from 0 to 65535';
  }
  return undefined;
}
