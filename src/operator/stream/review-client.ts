/**
 * TokenReviews of sidecar tokens, over the kept-alive pool of runtime/api-call.ts: after an
 * outage every sidecar reconnects at once, and a per-call handshake was most of the operator's
 * CPU while it caught up. An API server that cannot be asked is a 503 (`not_ready`), never a pass.
 */
import type { V1TokenReview } from '@kubernetes/client-node';
import { TOKEN_AUDIENCE } from '../../distribution/protocol.js';
import type { ApiCaller } from '../runtime/api-call.js';
import { podFromReview, type Authenticated } from './auth.js';

const PATH = '/apis/authentication.k8s.io/v1/tokenreviews';
/** A TokenReview answer is a few hundred bytes; more is not one. */
const MAX_ANSWER_BYTES = 64 * 1024;
const TIMEOUT_MS = 10_000;

const unavailable = (why: string): Authenticated => ({
  ok: false,
  status: 503,
  reason: 'not_ready',
  message: `TokenReview failed: ${why}`,
});

/** A TokenReview function over `call` (api-call.ts `apiCaller`). */
export function tokenReviewer(call: ApiCaller): (token: string) => Promise<Authenticated> {
  return async (token) => {
    const body = JSON.stringify({
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenReview',
      spec: { token, audiences: [TOKEN_AUDIENCE] },
    });
    const answer = await call({
      method: 'POST',
      path: PATH,
      body,
      accept: 'application/json',
      maxBytes: MAX_ANSWER_BYTES,
      timeoutMs: TIMEOUT_MS,
    });
    if (!answer.ok) return unavailable(answer.error);
    if (answer.status !== 200 && answer.status !== 201) return unavailable(`HTTP ${answer.status}`);
    try {
      return podFromReview(JSON.parse(answer.body.toString('utf8')) as V1TokenReview);
    } catch {
      return unavailable('an answer that is not a TokenReview');
    }
  };
}
