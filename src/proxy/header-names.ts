/**
 * Header names as the app reads them. CGI (RFC 3875 §4.1.18), PHP, WSGI and Rack expose request
 * headers as variables: upper-cased, with `-` turned into `_`, and PHP, Apache and many
 * frameworks turn every other character that cannot be in a variable name (`.`, `~`, `!`, …) into
 * `_` as well. So `X-Auth-Subject`, `X_Auth_Subject`, `x.auth.subject` and `X~Auth~Subject` are one
 * variable, `HTTP_X_AUTH_SUBJECT`. Every decision about a header name the sidecar sets, strips or
 * reads is therefore taken on this form, the CGI key (`cgiKey`), never on the spelling: a rule on
 * the normalised form, not a list of spellings.
 *
 * The classes below are rules on the key as well, so that a name nobody listed but that an app
 * reads for the same purpose falls in its class. They take a CGI key or a lower-case name made of
 * letters, digits and `-` (the same key before `-` → `_`), so the common name is not copied.
 */

/** Lower case; every character other than a–z and 0–9 becomes `_` (what CGI and PHP do). */
export function cgiKey(name: string): string {
  let out = '';
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    const letter = (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a; // ASCII only: OR 0x20 lower-cases A–Z
    const digit = c >= 0x30 && c <= 0x39;
    out += letter ? String.fromCharCode(c | 0x20) : digit ? name[i] : '_';
  }
  return out;
}

/** A name made of letters, digits and `-` only: the one spelling of its CGI key (nginx's rule). */
export function isPlainName(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    const ok = (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x2d;
    if (!ok) return false;
  }
  return name.length > 0;
}

/**
 * Client-address and forwarded-* headers: what a proxy in front says about the client and the
 * URL it saw. Kept only from `spec.trustedProxies`; from any other peer the whole class is
 * dropped and the sidecar sets its own `X-Forwarded-For` and `X-Forwarded-Proto`. The rule:
 * `Forwarded`; any `X-Forwarded…`, `X-Original-Forwarded…`; any name with the word `ip`, `ips`,
 * `addr`, or a client or remote `address` (`Client-IP`, `True-Client-IP`, `CF-Connecting-IP`, `X-Real-IP`,
 * `Remote-Addr`); the scheme words (`Front-End-Https`, `X-Url-Scheme`, `X-Forwarded-Ssl`); the
 * host aliases (`X-Host`, `X-Original-Host`); client-certificate headers (`SSL-Client-Cert`,
 * `X-Client-Verify`).
 */
export function isForwardingKey(key: string): boolean {
  return FORWARDING.test(key) || FORWARDING_WORDS.test(key) || CLIENT_CERT.test(key);
}
const FORWARDING = /^(forwarded|x[-_]forwarded|x[-_]original[-_]forwarded|x[-_]host$|x[-_]original[-_]host$)/;
const FORWARDING_WORDS =
  /(^|[-_])(ip|ips|addr|https|ssl|scheme|proto)([-_]|$)|(^|[-_])(remote|client|real)[-_]address([-_]|$)/;
const CLIENT_CERT =
  /(^|[-_])(client[-_]cert|client[-_]certificate|client[-_]verify|client[-_]dn|ssl[-_]client)([-_]|$)/;

/**
 * Headers by which IIS URL Rewrite, Symfony, Zend and others route instead of the request line
 * (`X-Original-URL`, `X-Rewrite-URL`, …): the rules matched the request line, so the app must
 * never route by anything else. Stripped from every peer, trusted proxies included.
 */
export function isRewriteKey(key: string): boolean {
  return REWRITE.test(key);
}
const REWRITE = /^x[-_](original|rewrite|override)[-_](url|uri|path)$/;

/**
 * Method-override headers (`X-HTTP-Method-Override`, `X-HTTP-Method`, `X-Method-Override`,
 * `X-Original-Method`): frameworks that honour them run another method than the one the rules
 * matched. Refused when they name another method (src/proxy/request-facts.ts).
 */
export function isMethodOverrideKey(key: string): boolean {
  return METHOD_OVERRIDE.test(key);
}
const METHOD_OVERRIDE = /^x[-_]((http|original)[-_])?method([-_]override)?$/;

/** CGI keys of the headers only the sidecar reads or sets, whatever the peer. */
const ALWAYS_PROTECTED = ['authorization', 'host', 'cookie', 'content_length', 'transfer_encoding'];

/**
 * Whether a header the client sent collides, as the app reads it, with one the sidecar owns: a
 * claim header (`stripped`), Authorization, Host, the forwarding class, the rewrite and override
 * classes. `name` is not the owned header itself (the caller handles exact names).
 */
export function aliasesProtected(key: string, strippedKeys: ReadonlySet<string>): boolean {
  return (
    strippedKeys.has(key) ||
    ALWAYS_PROTECTED.includes(key) ||
    isForwardingKey(key) ||
    isRewriteKey(key) ||
    isMethodOverrideKey(key)
  );
}

/** The CGI keys of a set of header names (claim headers), computed once per config. */
const keyCache = new WeakMap<ReadonlySet<string>, ReadonlySet<string>>();
export function cgiKeys(names: ReadonlySet<string>): ReadonlySet<string> {
  let keys = keyCache.get(names);
  if (keys === undefined) {
    keys = new Set([...names].map(cgiKey));
    keyCache.set(names, keys);
  }
  return keys;
}
