/**
 * TokenReviews over one kept-alive connection pool (runtime/kept-alive.ts): after an outage every
 * sidecar reconnects at once and each costs a TokenReview, so a per-call handshake was most of
 * the operator's CPU while it caught up. The credentials (a rotating ServiceAccount token, an
 * exec plugin) are still asked of the kubeconfig for every call. Its own request rather than the
 * generated client's: the answer is size-bounded and the call has a timeout.
 */
import type { KubeConfig, V1TokenReview } from '@kubernetes/client-node';
import http from 'node:http';
import https from 'node:https';
import { TOKEN_AUDIENCE } from '../../distribution/protocol.js';
import { KeptAliveAgent } from '../runtime/kept-alive.js';
import { podFromReview, type Authenticated } from './auth.js';

const PATH = '/apis/authentication.k8s.io/v1/tokenreviews';
/** A TokenReview answer is a few hundred bytes; more is not one. */
const MAX_ANSWER_BYTES = 64 * 1024;
const TIMEOUT_MS = 10_000;

type Reviewer = (token: string) => Promise<Authenticated>;

const unavailable = (why: string): Authenticated => ({
  ok: false,
  status: 503,
  reason: 'not_ready',
  message: `TokenReview failed: ${why}`,
});

/** A TokenReview function bound to `kc`'s current cluster and user. */
export function tokenReviewer(kc: KubeConfig, maxSockets = 32): Reviewer {
  const server = kc.getCurrentCluster()?.server;
  if (server === undefined) throw new Error('the kubeconfig has no current cluster');
  const url = new URL(PATH, server);
  const tls = url.protocol === 'https:';
  const agents = new KeptAliveAgent({ tls, maxSockets });
  const servername = (): string | undefined => kc.getCurrentCluster()?.tlsServerName;
  const agentOf = (o: https.RequestOptions): http.Agent => agents.for({ ...o, servername: servername() });

  return async (token) => {
    const o: https.RequestOptions = {};
    try {
      await kc.applyToHTTPSOptions(o);
    } catch (err) {
      return unavailable(`credentials: ${(err as Error).message}`);
    }
    const body = JSON.stringify({
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenReview',
      spec: { token, audiences: [TOKEN_AUDIENCE] },
    });
    const given =
      o.headers !== undefined && !Array.isArray(o.headers) ? (o.headers as http.OutgoingHttpHeaders) : {};
    const headers: http.OutgoingHttpHeaders = {
      ...given,
      'content-type': 'application/json',
      accept: 'application/json',
      'content-length': Buffer.byteLength(body),
    };
    if (typeof o.auth === 'string') headers.authorization = `Basic ${Buffer.from(o.auth).toString('base64')}`;
    return new Promise<Authenticated>((resolve) => {
      const req = (tls ? https : http).request(
        url,
        { method: 'POST', agent: agentOf(o), headers, timeout: TIMEOUT_MS },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > MAX_ANSWER_BYTES) req.destroy(new Error('answer too large'));
            else chunks.push(c);
          });
          res.on('error', (err) => resolve(unavailable(err.message)));
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            if (status !== 200 && status !== 201) return resolve(unavailable(`HTTP ${status}`));
            try {
              resolve(podFromReview(JSON.parse(Buffer.concat(chunks).toString('utf8')) as V1TokenReview));
            } catch {
              resolve(unavailable('an answer that is not a TokenReview'));
            }
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)));
      req.on('error', (err) => resolve(unavailable(err.message)));
      req.end(body);
    });
  };
}
