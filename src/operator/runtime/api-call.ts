/**
 * Raw API server calls over one kept-alive connection pool (kept-alive.ts), for the few calls
 * the generated client does not bound: the answer is size-limited and the call has a timeout.
 * The credentials (a rotating ServiceAccount token, an exec plugin) are asked of the kubeconfig
 * for every call. Used for TokenReviews and for the service-account issuer's discovery
 * document and keys.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import http from 'node:http';
import https from 'node:https';
import { KeptAliveAgent } from './kept-alive.js';

export interface ApiRequest {
  readonly method: 'GET' | 'POST';
  /** Path on the API server, e.g. `/openid/v1/jwks`. */
  readonly path: string;
  /** A JSON body (POST). */
  readonly body?: string;
  /** What the answer may be; the API server answers 406 to a type it does not serve there. */
  readonly accept: string;
  /** Larger answers are abandoned as errors. */
  readonly maxBytes: number;
  readonly timeoutMs: number;
}

/** The answer's status and body, or why there is none (never thrown). */
export type ApiAnswer =
  | { readonly ok: true; readonly status: number; readonly body: Buffer }
  | { readonly ok: false; readonly error: string };

export type ApiCaller = (r: ApiRequest) => Promise<ApiAnswer>;

/** Calls to `kc`'s current cluster as its current user, over at most `maxSockets` connections. */
export function apiCaller(kc: KubeConfig, maxSockets = 32): ApiCaller {
  const server = kc.getCurrentCluster()?.server;
  if (server === undefined) throw new Error('the kubeconfig has no current cluster');
  const tls = new URL(server).protocol === 'https:';
  const agents = new KeptAliveAgent({ tls, maxSockets });
  const agentOf = (o: https.RequestOptions): http.Agent =>
    agents.for({ ...o, servername: kc.getCurrentCluster()?.tlsServerName });

  return async (r) => {
    const o: https.RequestOptions = {};
    try {
      await kc.applyToHTTPSOptions(o);
    } catch (err) {
      return { ok: false, error: `credentials: ${(err as Error).message}` };
    }
    const given =
      o.headers !== undefined && !Array.isArray(o.headers) ? (o.headers as http.OutgoingHttpHeaders) : {};
    const headers: http.OutgoingHttpHeaders = { ...given, accept: r.accept };
    if (r.body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(r.body);
    }
    if (typeof o.auth === 'string') headers.authorization = `Basic ${Buffer.from(o.auth).toString('base64')}`;
    // The server URL may carry a path prefix (a proxy in front of the API server).
    const url = new URL(server.replace(/\/+$/, '') + r.path);
    return new Promise<ApiAnswer>((resolve) => {
      const req = (tls ? https : http).request(
        url,
        { method: r.method, agent: agentOf(o), headers, timeout: r.timeoutMs },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > r.maxBytes) req.destroy(new Error(`answer over ${r.maxBytes} bytes`));
            else chunks.push(c);
          });
          res.on('error', (err) => resolve({ ok: false, error: err.message }));
          res.on('end', () =>
            resolve({ ok: true, status: res.statusCode ?? 0, body: Buffer.concat(chunks) }),
          );
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${r.timeoutMs} ms`)));
      req.on('error', (err) => resolve({ ok: false, error: err.message }));
      req.end(r.body);
    });
  };
}
