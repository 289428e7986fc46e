/**
 * The only place where a decision's refusal becomes an answer: status, RFC 6750
 * `WWW-Authenticate` and the JSON body (respond.ts writes it). Descriptions sent to clients are
 * generic per reason; the detail stays in logs.
 */
import type { DenyReason } from '../core/reasons.js';
import type { Reject } from '../decide/decision.js';
import { errorBody as body, type Answer } from './respond.js';

export const REALM = 'tokenwarden';

/** An RFC 6750 refusal is an Answer like any other the sidecar writes. */
export type Challenge = Answer;

const GENERIC: Record<DenyReason, string> = {
  missing: 'a bearer token is required',
  malformed: 'the token is malformed',
  bad_signature: 'the token signature is invalid',
  unknown_key: 'the token was signed by an unknown key',
  alg_not_allowed: 'the token algorithm is not allowed',
  expired: 'the token has expired',
  not_yet_valid: 'the token is not yet valid',
  too_old: 'the token is too old',
  lifetime_too_long: 'the token lifetime is too long',
  wrong_issuer: 'the token issuer is not accepted',
  wrong_audience: 'the token audience is not accepted',
  wrong_type: 'the token type is not accepted',
  revoked: 'the token has been revoked',
  reused: 'the token has been used too many times',
  reuse_store_full: 'the token cannot be accepted: its uses cannot be recorded',
  reuse_store_unavailable: 'the token cannot be checked for reuse right now; retry later',
  insufficient_scope: 'the token lacks a required scope',
  missing_claim: 'the token lacks a required claim',
  denied_by_rule: 'access to this resource is denied',
};

/** RFC 6750 §3: auth-param values are quoted strings; strip what a quoted-string cannot hold. */
function quote(value: string): string {
  return `"${value.replace(/[\\"]/g, '').replace(/[^\x20-\x7e]/g, '')}"`;
}

function bearer(params: Record<string, string>): string {
  const parts = [`realm=${quote(REALM)}`];
  for (const [k, v] of Object.entries(params)) parts.push(`${k}=${quote(v)}`);
  return `Bearer ${parts.join(', ')}`;
}

// Precomputed: the refusal path is also a hot path under attack.
const REQUEST_INVALID = (description: string): Challenge => ({
  status: 400,
  wwwAuthenticate: bearer({ error: 'invalid_request', error_description: description }),
  body: body('invalid_request', description),
});

export function challengeFor(reject: Reject): Challenge {
  const description = GENERIC[reject.reason];
  if (reject.stage === 'request') return REQUEST_INVALID(requestDescription(reject.description));
  switch (reject.reason) {
    case 'missing':
      // RFC 6750 §3.1: no error code when the request carried no authentication at all.
      return { status: 401, wwwAuthenticate: bearer({}), body: body('unauthorized', description) };
    case 'denied_by_rule':
      return { status: 403, wwwAuthenticate: undefined, body: body('access_denied', description) };
    case 'reuse_store_unavailable':
      // Nothing is wrong with the token: the server cannot count its use now (fail closed).
      return { status: 503, wwwAuthenticate: undefined, body: body('temporarily_unavailable', description) };
    case 'insufficient_scope':
    case 'missing_claim': {
      const params: Record<string, string> = { error: 'insufficient_scope', error_description: description };
      if (reject.scope) params.scope = reject.scope;
      return { status: 403, wwwAuthenticate: bearer(params), body: body('insufficient_scope', description) };
    }
    default:
      return {
        status: 401,
        wwwAuthenticate: bearer({ error: 'invalid_token', error_description: description }),
        body: body('invalid_token', description),
      };
  }
}

/**
 * Request-level problems (two Authorization headers, bad syntax, unsafe path) are the client's
 * own doing and carry no secret, so their description is passed on, bounded and printable.
 */
function requestDescription(description: string): string {
  return description.slice(0, 200);
}
