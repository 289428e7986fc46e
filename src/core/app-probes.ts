/**
 * The app probes an injected pod hands its sidecar: the webhook (src/operator/webhook/probes.ts)
 * moves each HTTP probe aimed at the captured port onto the sidecar's admin port and passes the
 * original here, in one environment variable; the sidecar (src/sidecar/probes.ts) runs exactly
 * that probe against the app when the kubelet asks for it. Both sides read this one contract.
 *
 * `TOKENWARDEN_APP_PROBES` holds a JSON object keyed `<container>/<kind>`; the kubelet asks for
 * `GET /app-health/<container>/<kind>` on the admin port. Only what is stored here is ever dialed:
 * 127.0.0.1, the probe's port, path, scheme and headers; nothing from the kubelet's request.
 */
import { ADMIN_PORT, PROXY_PORT } from './injection.js';

export const APP_PROBES_ENV = 'TOKENWARDEN_APP_PROBES';
export const APP_PROBE_PREFIX = '/app-health/';
export const PROBE_KINDS = ['livez', 'readyz', 'startupz'] as const;
export type ProbeKind = (typeof PROBE_KINDS)[number];

export interface AppProbeHeader {
  readonly name: string;
  readonly value: string;
}

export interface AppProbe {
  readonly path: string;
  readonly port: number;
  readonly scheme: 'HTTP' | 'HTTPS';
  readonly headers: readonly AppProbeHeader[];
  /** The original probe's timeoutSeconds: the sidecar's own deadline for the app's answer. */
  readonly timeoutSeconds: number;
}

/** The admin port path the kubelet probes for `container`'s probe of `kind`. */
export function appProbePath(container: string, kind: ProbeKind): string {
  return `${APP_PROBE_PREFIX}${container}/${kind}`;
}

const CONTAINER_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// A request target the sidecar writes verbatim: printable ASCII, no space, from the root.
const PATH = /^\/[\x21-\x7e]*$/;
// A header value: visible characters, spaces and tabs only (never CR, LF or NUL).
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function parseProbe(key: string, v: unknown): AppProbe {
  const field = (f: string) => `${APP_PROBES_ENV}["${key}"].${f}`;
  if (!isObject(v)) throw new Error(`${APP_PROBES_ENV}["${key}"] must be an object`);
  const { path, port, scheme, headers, timeoutSeconds } = v;
  if (typeof path !== 'string' || !PATH.test(path) || path.length > 2048)
    throw new Error(`${field('path')} must start with "/" and hold printable ASCII without spaces`);
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535)
    throw new Error(`${field('port')} must be an integer port (1-65535)`);
  if (port === PROXY_PORT || port === ADMIN_PORT)
    throw new Error(`${field('port')} must not be the sidecar's own port ${port}`);
  if (scheme !== 'HTTP' && scheme !== 'HTTPS') throw new Error(`${field('scheme')} must be HTTP or HTTPS`);
  if (
    typeof timeoutSeconds !== 'number' ||
    !Number.isInteger(timeoutSeconds) ||
    timeoutSeconds < 1 ||
    timeoutSeconds > 3600
  )
    throw new Error(`${field('timeoutSeconds')} must be an integer from 1 to 3600`);
  if (!Array.isArray(headers) || headers.length > 32)
    throw new Error(`${field('headers')} must be a list (at most 32)`);
  const list = headers.map((h: unknown, i): AppProbeHeader => {
    if (!isObject(h) || typeof h.name !== 'string' || !HEADER_NAME.test(h.name))
      throw new Error(`${field(`headers[${i}].name`)} must be an HTTP header name`);
    if (typeof h.value !== 'string' || !HEADER_VALUE.test(h.value) || h.value.length > 4096)
      throw new Error(`${field(`headers[${i}].value`)} must not hold CR, LF or other control characters`);
    return { name: h.name, value: h.value };
  });
  return { path, port, scheme, headers: list, timeoutSeconds };
}

/** Parses and validates the variable; every error names the field. Keys: `<container>/<kind>`. */
export function parseAppProbes(text: string): Map<string, AppProbe> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new Error(`${APP_PROBES_ENV} is not JSON`);
  }
  if (!isObject(raw)) throw new Error(`${APP_PROBES_ENV} must be a JSON object`);
  const out = new Map<string, AppProbe>();
  for (const [key, value] of Object.entries(raw)) {
    const [container, kind, extra] = key.split('/');
    if (
      extra !== undefined ||
      !CONTAINER_NAME.test(container ?? '') ||
      !PROBE_KINDS.includes(kind as ProbeKind)
    )
      throw new Error(`${APP_PROBES_ENV} key "${key}" must be <container>/<${PROBE_KINDS.join('|')}>`);
    out.set(key, parseProbe(key, value));
  }
  return out;
}
