/**
 * What of a request may reach a log line. A rule, not a list of parameter names: the query and
 * the fragment are never logged (only that there was one: `?*`, `#*`); a path segment keeps
 * what precedes its first `;` (the rest is `;*`); a segment whose decoded form carries `=`, `;`,
 * `?` or `#`, or an opaque run (16 or more base64url characters mixing two of upper case, lower
 * case and digits: a token, a signature, a key), is written as `*`. Free text that may quote the
 * path (a rule's description) has its opaque runs replaced the same way. Plain words, slugs and
 * short ids are kept, so a log still says which route was refused.
 */

const OPAQUE_RUN = /[A-Za-z0-9_-]{16,}/g;
const MAX_LOGGED_PATH = 512;

function isOpaque(run: string): boolean {
  const classes = (/[A-Z]/.test(run) ? 1 : 0) + (/[a-z]/.test(run) ? 1 : 0) + (/[0-9]/.test(run) ? 1 : 0);
  return classes >= 2;
}

function hasOpaqueRun(text: string): boolean {
  for (const m of text.matchAll(OPAQUE_RUN)) if (isOpaque(m[0])) return true;
  return false;
}

/** Percent-escapes decoded one by one, up to three rounds (double encoding); bad ones kept. */
function decodeLoose(s: string): string {
  let out = s;
  for (let i = 0; i < 3 && out.includes('%'); i++) {
    const next = out.replace(/%([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
    if (next === out) break;
    out = next;
  }
  return out;
}

function segment(s: string): string {
  const semi = s.indexOf(';');
  const head = semi === -1 ? s : s.slice(0, semi);
  const d = decodeLoose(head);
  const safe = /[=;?#]/.test(d) || hasOpaqueRun(d) ? '*' : head;
  return semi === -1 ? safe : `${safe};*`;
}

/** The request target (or a path) as it may be logged: see the module comment. */
export function loggablePath(target: string): string {
  const cut = target.search(/[?#]/);
  const path = cut === -1 ? target : target.slice(0, cut);
  const suffix = cut === -1 ? '' : `${target[cut]}*`;
  let out = path.split('/').map(segment).join('/');
  if (out.length > MAX_LOGGED_PATH) out = `${out.slice(0, MAX_LOGGED_PATH)}…`;
  return out + suffix;
}

/** Free text for a log field: opaque runs replaced by `*`, query strings cut. */
export function loggableText(text: string): string {
  return text.replace(OPAQUE_RUN, (run) => (isOpaque(run) ? '*' : run)).replace(/\?\S*/g, '?*');
}

/** Log fields with `path` and `detail` made loggable (other fields are the sidecar's own). */
export function loggableFields(fields: Record<string, unknown>): Record<string, unknown> {
  const out = { ...fields };
  if (typeof out.path === 'string') out.path = loggablePath(out.path);
  if (typeof out.detail === 'string') out.detail = loggableText(out.detail);
  if (typeof out.err === 'string') out.err = loggableText(out.err);
  return out;
}
