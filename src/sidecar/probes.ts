/**
 * The sidecar's half of probe rewriting (src/operator/webhook/probes.ts moves the app's HTTP
 * probes onto the admin port): `GET /app-health/<container>/<kind>` runs the probe stored under
 * that key in TOKENWARDEN_APP_PROBES against the app on 127.0.0.1 and answers 200 when the app
 * answered 200-399 (the kubelet's rule), 503 otherwise. Only the stored probe's port, path, scheme
 * and headers are used: the request's own path suffix, query, headers and body are never passed
 * on, so the admin port cannot be used to reach anything the pod spec did not name. The sidecar's
 * UID is exempt from the capture rules, so the probe reaches the app directly.
 */
import http from 'node:http';
import https from 'node:https';
import { APP_PROBES_ENV, APP_PROBE_PREFIX, type AppProbe, parseAppProbes } from '../core/app-probes.js';

/** At most this many probes of one key in flight (the kubelet sends one per period). */
const MAX_IN_FLIGHT = 4;

export type AppProbeRoute = (path: string, res: http.ServerResponse) => boolean;

/**
 * Puts the moved probes' route in front of the admin server's own routes (a GET or HEAD whose
 * path starts with /app-health/); every other request goes to the handlers it had.
 */
export function serveAppProbes(admin: http.Server, env: NodeJS.ProcessEnv): void {
  const route = appProbeRoute(env);
  if (route === undefined) return;
  const handlers = admin.listeners('request') as ((...a: unknown[]) => void)[];
  admin.removeAllListeners('request');
  admin.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
    if ((req.method === 'GET' || req.method === 'HEAD') && route(path, res)) return;
    for (const h of handlers) h.call(admin, req, res);
  });
}

export interface ProbeResult {
  readonly ok: boolean;
  /** The app's status code, or the reason there was none. */
  readonly detail: string;
}

/** Runs one probe against the app: GET 127.0.0.1:<port><path> with the probe's headers only. */
function runAppProbe(probe: AppProbe): Promise<ProbeResult> {
  const headers: Record<string, string> = { 'user-agent': 'kube-probe/tokenwarden', accept: '*/*' };
  for (const h of probe.headers) headers[h.name.toLowerCase()] = h.value;
  headers.host ??= `127.0.0.1:${probe.port}`;
  const client = probe.scheme === 'HTTPS' ? https : http;
  return new Promise((resolve) => {
    const req = client.request(
      {
        host: '127.0.0.1',
        port: probe.port,
        path: probe.path,
        method: 'GET',
        headers,
        agent: false,
        // The kubelet does not verify an HTTPS probe's certificate either.
        ...(probe.scheme === 'HTTPS' ? { rejectUnauthorized: false } : {}),
      },
      (res) => {
        res.resume();
        req.destroy();
        const code = res.statusCode ?? 0;
        resolve({ ok: code >= 200 && code < 400, detail: `app answered ${code}` });
      },
    );
    req.setTimeout(probe.timeoutSeconds * 1000, () => req.destroy(new Error('timed out')));
    req.on('error', (err) => resolve({ ok: false, detail: `app unreachable: ${err.message}` }));
    req.end();
  });
}

/** The admin server's route for the moved probes, or undefined when the pod has none. */
function appProbeRoute(env: NodeJS.ProcessEnv): AppProbeRoute | undefined {
  const text = env[APP_PROBES_ENV];
  if (text === undefined || text === '') return undefined;
  const probes = parseAppProbes(text);
  const inFlight = new Map<string, number>();
  return (path, res) => {
    if (!path.startsWith(APP_PROBE_PREFIX)) return false;
    const key = path.slice(APP_PROBE_PREFIX.length);
    const probe = probes.get(key);
    const answer = (code: number, text: string) => {
      res.writeHead(code, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
      res.end(text);
    };
    if (probe === undefined) {
      answer(404, 'no such app probe\n');
      return true;
    }
    const n = inFlight.get(key) ?? 0;
    if (n >= MAX_IN_FLIGHT) {
      answer(503, 'too many probes in flight\n');
      return true;
    }
    inFlight.set(key, n + 1);
    void runAppProbe(probe).then((r) => {
      inFlight.set(key, (inFlight.get(key) ?? 1) - 1);
      answer(r.ok ? 200 : 503, `${r.detail}\n`);
    });
    return true;
  };
}
