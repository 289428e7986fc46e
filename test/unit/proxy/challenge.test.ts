import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { REALM, challengeFor } from '../../../src/proxy/challenge.js';
import { badGateway, refusal } from '../../../src/proxy/respond.js';
import type { Reject, Stage } from '../../../src/decide/decision.js';
import { DENY_REASONS, type DenyReason } from '../../../src/core/reasons.js';

const BARE = `Bearer realm="${REALM}"`;
const invalidToken = (d: string): string => `${BARE}, error="invalid_token", error_description="${d}"`;

interface Expected {
  status: number;
  wwwAuthenticate: string | undefined;
  error: string;
  description: string;
}

/** Every DenyReason, refused at the stage the engine refuses it: a Record, so none is forgotten. */
const TABLE: Record<DenyReason, Expected & { stage: Stage }> = {
  missing: {
    stage: 'token',
    status: 401,
    wwwAuthenticate: BARE,
    error: 'unauthorized',
    description: 'a bearer token is required',
  },
  malformed: {
    stage: 'token',
    status: 401,
    wwwAuthenticate: invalidToken('the token is malformed'),
    error: 'invalid_token',
    description: 'the token is malformed',
  },
  bad_signature: {
    stage: 'token',
    status: 401,
    wwwAuthenticate: invalidToken('the token signature is invalid'),
    error: 'invalid_token',
    description: 'the token signature is invalid',
  },
  unknown_key: {
    stage: 'token',
    status: 401,
    wwwAuthenticate: invalidToken('the token was signed by an unknown key'),
    error: 'invalid_token',
    description: 'the token was signed by an unknown key',
  },
  alg_not_allowed: {
    stage: 'token',
    status: 401,
    wwwAuthenticate: invalidToken('the token algorithm is not allowed'),
    error: 'invalid_token',
    description: 'the token algorithm is not allowed',
  },
  expired: {
    stage: 'token',
    status: 401,
    wwwAuthenticate: invalidToken('the token has expired'),
    error: 'invalid_token',
    description: 'the token has expired',
  },
  not_yet_valid: {
    stage: 'token',
    status: 401,
    wwwAuthenticate: invalidToken('the token is not yet valid'),
    error: 'invalid_token',
    description: 'the token is not yet valid',
  },
  too_old: {
    stage: 'token',
    status: 401,
    wwwAuthenticate: invalidToken('the token is too old'),
    error: 'invalid_token',
    description: 'the token is too old',
  },
  lifetime_too_long: {
    stage: 'token',
    status: 401,
    wwwAuthenticate: invalidToken('the token lifetime is too long'),
    error: 'invalid_token',
    description: 'the token lifetime is too long',
  },
  wrong_issuer: {
    stage: 'token',
    status: 401,
    wwwAuthenticate: invalidToken('the token issuer is not accepted'),
    error: 'invalid_token',
    description: 'the token issuer is not accepted',
  },
  wrong_audience: {
    stage: 'token',
    status: 401,
    wwwAuthenticate: invalidToken('the token audience is not accepted'),
    error: 'invalid_token',
    description: 'the token audience is not accepted',
  },
  wrong_type: {
    stage: 'token',
    status: 401,
    wwwAuthenticate: invalidToken('the token type is not accepted'),
    error: 'invalid_token',
    description: 'the token type is not accepted',
  },
  revoked: {
    stage: 'token',
    status: 401,
    wwwAuthenticate: invalidToken('the token has been revoked'),
    error: 'invalid_token',
    description: 'the token has been revoked',
  },
  reused: {
    stage: 'token',
    status: 401,
    wwwAuthenticate: invalidToken('the token has been used too many times'),
    error: 'invalid_token',
    description: 'the token has been used too many times',
  },
  reuse_store_full: {
    stage: 'token',
    status: 401,
    wwwAuthenticate: invalidToken('the token cannot be accepted: its uses cannot be recorded'),
    error: 'invalid_token',
    description: 'the token cannot be accepted: its uses cannot be recorded',
  },
  reuse_store_unavailable: {
    stage: 'token',
    status: 503,
    wwwAuthenticate: undefined,
    error: 'temporarily_unavailable',
    description: 'the token cannot be checked for reuse right now; retry later',
  },
  insufficient_scope: {
    stage: 'rule',
    status: 403,
    wwwAuthenticate: `${BARE}, error="insufficient_scope", error_description="the token lacks a required scope", scope="orders:admin orders:write"`,
    error: 'insufficient_scope',
    description: 'the token lacks a required scope',
  },
  missing_claim: {
    stage: 'rule',
    status: 403,
    wwwAuthenticate: `${BARE}, error="insufficient_scope", error_description="the token lacks a required claim"`,
    error: 'insufficient_scope',
    description: 'the token lacks a required claim',
  },
  denied_by_rule: {
    stage: 'rule',
    status: 403,
    wwwAuthenticate: undefined,
    error: 'access_denied',
    description: 'access to this resource is denied',
  },
};

function reject(
  reason: DenyReason,
  stage: Stage,
  description = 'detail that stays in the logs',
  scope?: string,
): Reject {
  return {
    kind: 'reject',
    stage,
    reason,
    description,
    policy: 'p',
    generation: 1,
    rule: 'r',
    path: '/x',
    token: undefined,
    scope,
  };
}

describe('challengeFor: the one DenyReason → HTTP mapping', () => {
  it('covers every DenyReason', () => {
    expect(Object.keys(TABLE).sort()).toEqual([...DENY_REASONS].sort());
  });

  it.each(DENY_REASONS.map((reason) => ({ reason, ...TABLE[reason] })))(
    '$reason answers $status with its RFC 6750 challenge',
    ({ reason, stage, status, wwwAuthenticate, error, description }) => {
      const scope = reason === 'insufficient_scope' ? 'orders:admin orders:write' : undefined;
      const c = challengeFor(reject(reason, stage, 'kid "k-1" and other detail', scope));
      expect(c.status).toBe(status);
      expect(c.wwwAuthenticate).toBe(wwwAuthenticate);
      expect(JSON.parse(c.body)).toEqual({ error, error_description: description });
    },
  );

  it.each(
    DENY_REASONS.filter(
      (r) => r !== 'missing' && r !== 'denied_by_rule' && r !== 'insufficient_scope' && r !== 'missing_claim',
    ),
  )('a %s refusal never sends its detail to the client', (reason) => {
    const c = challengeFor(reject(reason, 'token', 'kid "k-secret" from 10.0.0.7'));
    expect(c.body).not.toContain('k-secret');
    expect(c.wwwAuthenticate ?? '').not.toContain('k-secret');
  });

  it('a request-stage refusal answers 400 invalid_request and passes its own description on', () => {
    const c = challengeFor(reject('malformed', 'request', 'more than one Authorization header'));
    expect(c.status).toBe(400);
    expect(c.wwwAuthenticate).toBe(
      `${BARE}, error="invalid_request", error_description="more than one Authorization header"`,
    );
    expect(JSON.parse(c.body)).toEqual({
      error: 'invalid_request',
      error_description: 'more than one Authorization header',
    });
  });

  it('a request-stage description loses quotes, backslashes and non-printables in the header, and is cut at 200 characters', () => {
    const c = challengeFor(reject('malformed', 'request', `say "hi" \\ caf\u00e9\r\n${'x'.repeat(300)}`));
    expect(c.wwwAuthenticate).toMatch(
      /^Bearer realm="tokenwarden", error="invalid_request", error_description="say hi {2}caf[x]+"$/,
    );
    const description = (JSON.parse(c.body) as { error_description: string }).error_description;
    expect(description.length).toBe(200);
    expect(c.wwwAuthenticate?.length).toBeLessThan(300);
  });

  it('insufficient_scope without scopes on the rule sends no scope parameter', () => {
    const c = challengeFor(reject('insufficient_scope', 'rule'));
    expect(c.wwwAuthenticate).toBe(
      `${BARE}, error="insufficient_scope", error_description="the token lacks a required scope"`,
    );
  });

  it('missing_claim on a rule that also requires scopes names them (README: scope="…")', () => {
    const c = challengeFor(reject('missing_claim', 'rule', 'role missing', 'orders:admin'));
    expect(c.wwwAuthenticate).toBe(
      `${BARE}, error="insufficient_scope", error_description="the token lacks a required claim", scope="orders:admin"`,
    );
  });
});

describe('challengeFor, for any description', () => {
  it('the WWW-Authenticate value is printable ASCII and each auth-param a well-formed quoted-string', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 300, unit: 'binary' }),
        fc.constantFrom(...DENY_REASONS),
        fc.boolean(),
        (description, reason, request) => {
          const c = challengeFor(reject(reason, request ? 'request' : 'token', description, 'orders:admin'));
          if (c.wwwAuthenticate === undefined) return;
          expect(c.wwwAuthenticate).toMatch(
            /^Bearer realm="tokenwarden"(, [a-z_]+="[\x20\x21\x23-\x5b\x5d-\x7e]*")*$/,
          );
          expect(() => JSON.parse(c.body) as unknown).not.toThrow();
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('other answers', () => {
  it('no policy loaded answers 503 without a challenge', () => {
    const c = refusal('no_policy');
    expect(c.status).toBe(503);
    expect(c.wwwAuthenticate).toBeUndefined();
    expect(JSON.parse(c.body)).toEqual({
      error: 'temporarily_unavailable',
      error_description: 'no token policy is loaded yet',
    });
  });

  it('an unreachable app answers a JSON bad_gateway body', () => {
    expect(JSON.parse(badGateway().body)).toEqual({
      error: 'bad_gateway',
      error_description: 'the application did not answer',
    });
  });
});
