/**
 * The README's "What clients see" rules as data, shared by the Enforce suite (each
 * request refused exactly so) and the Audit suite (each request forwarded, counted audit_deny).
 * Every case sends to its own path under `/orders/` (or the rule's prefix), so a test can tell
 * whether the app received it.
 */
import { hmacToken, noneWithSignature, pssToken, tamperedPayload, unsignedToken } from './forge.js';
import { raw, send } from './http.js';
import type { Issuer } from './issuer.js';
import { policyDoc, policyFile, revocationDoc, type RuleDoc } from './policy.js';
import type { Sidecar } from './sidecar.js';

export const REALM = 'Bearer realm="tokenwarden"';

/** The rules every case assumes (in this order; first match wins). */
export const CASE_RULES: RuleDoc[] = [
  { name: 'health', paths: ['/healthz'], methods: ['GET'], action: 'Allow' },
  { name: 'admin', paths: ['/admin', '/admin/*'], action: 'Deny' },
  {
    name: 'orders-admin',
    paths: ['/orders/admin/*'],
    action: 'Authenticate',
    requiredScopes: ['orders:admin'],
    requiredClaims: { role: 'admin' },
  },
  {
    name: 'reports',
    paths: ['/reports/*'],
    action: 'Authenticate',
    requiredClaims: { department: 'finance' },
  },
  { name: 'orders', paths: ['/orders/*'], action: 'Authenticate' },
];

/** Expiry limits the cases rely on. */
export const CASE_EXPIRY = { clockSkewSeconds: 5, maxTokenAgeSeconds: 3600, maxLifetimeSeconds: 86400 };
export const CASE_MAX_USES = 2;
/** A jti revoked by the file's own TokenRevocation. */
export const REVOKED_JTI = 'jti-revoked-in-file';

/** The policy file every case of the table runs against; Audit mode changes nothing else. */
export function casePolicyYaml(issuer: Issuer, mode: 'Enforce' | 'Audit'): string {
  return policyFile(
    policyDoc(issuer, {
      mode,
      rules: CASE_RULES,
      expiry: CASE_EXPIRY,
      maxUses: CASE_MAX_USES,
      forwardClaims: [{ claim: 'sub', header: 'X-Auth-Subject' }],
    }),
    revocationDoc('static-revocation', [{ jti: REVOKED_JTI }]),
  );
}

export interface Answer {
  status: number;
  wwwAuthenticate: string | undefined;
  text: string;
}

export interface Ctx {
  issuer: Issuer;
  sidecar: Sidecar;
  path: string;
}

export interface DenyCase {
  name: string;
  path: string;
  reason: string;
  status: number;
  /** Exact value, or undefined when the header must be absent. */
  wwwAuthenticate: string | undefined;
  error: string;
  description: string;
  /** Requests made before the one under test (uses that count towards maxUses). */
  warmUps?: number;
  run(ctx: Ctx): Promise<Answer>;
}

const invalidToken = (description: string): string =>
  `${REALM}, error="invalid_token", error_description="${description}"`;
const invalidRequest = (description: string): string =>
  `${REALM}, error="invalid_request", error_description="${description}"`;

export async function viaSend(ctx: Ctx, opts: Parameters<typeof send>[2], query = ''): Promise<Answer> {
  const res = await send(ctx.sidecar.proxyUrl, `${ctx.path}${query}`, opts);
  const www = res.headers['www-authenticate'];
  return { status: res.status, wwwAuthenticate: Array.isArray(www) ? www.join('\n') : www, text: res.text };
}

const withToken =
  (make: (issuer: Issuer) => Promise<string> | string) =>
  async (ctx: Ctx): Promise<Answer> =>
    viaSend(ctx, { token: await make(ctx.issuer) });

/** A token that is reused across warm-ups and the request under test. */
const reusedTokens = new WeakMap<Issuer, Promise<string>>();

function invalid(
  name: string,
  reason: string,
  description: string,
  make: (issuer: Issuer) => Promise<string> | string,
  slug: string,
): DenyCase {
  return {
    name,
    path: `/orders/${slug}`,
    reason,
    status: 401,
    wwwAuthenticate: invalidToken(description),
    error: 'invalid_token',
    description,
    run: withToken(make),
  };
}

const now = (): number => Math.floor(Date.now() / 1000);

export function denyCases(): DenyCase[] {
  return [
    {
      name: 'no token answers 401 with a bare Bearer challenge and no error code',
      path: '/orders/no-token',
      reason: 'missing',
      status: 401,
      wwwAuthenticate: REALM,
      error: 'unauthorized',
      description: 'a bearer token is required',
      run: (ctx) => viaSend(ctx, {}),
    },
    {
      name: 'a request with two Authorization headers is malformed (400 invalid_request)',
      path: '/orders/two-headers',
      reason: 'malformed',
      status: 400,
      wwwAuthenticate: invalidRequest('more than one Authorization header'),
      error: 'invalid_request',
      description: 'more than one Authorization header',
      async run(ctx) {
        const token = await ctx.issuer.token();
        const res = await raw(
          ctx.sidecar.proxyPort,
          [
            `GET ${ctx.path} HTTP/1.1`,
            'host: 127.0.0.1',
            `authorization: Bearer ${token}`,
            `Authorization: Bearer ${token}`,
            'connection: close',
            '',
            '',
          ].join('\r\n'),
        );
        return { status: res.status, wwwAuthenticate: res.header('www-authenticate'), text: res.text };
      },
    },
    {
      name: 'a token in both the header and the access_token query parameter is malformed (400)',
      path: '/orders/header-and-query',
      reason: 'malformed',
      status: 400,
      wwwAuthenticate: invalidRequest(
        'a token in both the Authorization header and the access_token query parameter',
      ),
      error: 'invalid_request',
      description: 'a token in both the Authorization header and the access_token query parameter',
      async run(ctx) {
        const token = await ctx.issuer.token();
        return viaSend(ctx, { token }, `?access_token=${token}`);
      },
    },
    {
      name: 'a token in the access_token query parameter alone is refused as malformed (400)',
      path: '/orders/query-only',
      reason: 'malformed',
      status: 400,
      wwwAuthenticate: invalidRequest(
        'tokens in the access_token query parameter are not accepted; use the Authorization header',
      ),
      error: 'invalid_request',
      description:
        'tokens in the access_token query parameter are not accepted; use the Authorization header',
      async run(ctx) {
        return viaSend(ctx, {}, `?access_token=${await ctx.issuer.token()}`);
      },
    },
    {
      name: 'a Bearer value outside the b64token syntax is malformed (400)',
      path: '/orders/bad-syntax',
      reason: 'malformed',
      status: 400,
      wwwAuthenticate: invalidRequest('the bearer token contains a character outside the b64token syntax'),
      error: 'invalid_request',
      description: 'the bearer token contains a character outside the b64token syntax',
      run: (ctx) => viaSend(ctx, { authorization: 'Bearer abc.def.ghi jkl' }),
    },
    invalid(
      'a token whose payload was changed after signing has a bad signature (401)',
      'bad_signature',
      'the token signature is invalid',
      async (issuer) => tamperedPayload(await issuer.token(), { sub: 'user-mallory' }),
      'bad-signature',
    ),
    invalid(
      'a token signed by a key the issuer never published is an unknown key (401)',
      'unknown_key',
      'the token was signed by an unknown key',
      async (issuer) => {
        if (!issuer.keys.has('unpublished-1')) await issuer.addKey('unpublished-1', 'RS256');
        return issuer.token({}, { kid: 'unpublished-1' });
      },
      'unknown-key',
    ),
    invalid(
      'an alg none token carrying a signature is a disallowed alg (401)',
      'alg_not_allowed',
      'the token algorithm is not allowed',
      (issuer) => noneWithSignature(issuer.claims(), 'rsa-1'),
      'alg-none',
    ),
    invalid(
      'an unsigned alg none token (empty signature part) is refused as malformed (401)',
      'malformed',
      'the token is malformed',
      (issuer) => unsignedToken(issuer.claims()),
      'alg-none-unsigned',
    ),
    invalid(
      'an HS256 token keyed with the RSA public key PEM (key confusion) is a disallowed alg (401)',
      'alg_not_allowed',
      'the token algorithm is not allowed',
      (issuer) => hmacToken(issuer.claims(), 'rsa-1', issuer.keys.get('rsa-1')!.publicPem),
      'hs256-confusion',
    ),
    invalid(
      "a PS256 token (asymmetric, but not in the issuer's algorithms) is a disallowed alg (401)",
      'alg_not_allowed',
      'the token algorithm is not allowed',
      (issuer) => pssToken(issuer.claims(), 'rsa-1', issuer.keys.get('rsa-1')!.privateKey),
      'alg-not-for-issuer',
    ),
    invalid(
      'an expired token is refused (401)',
      'expired',
      'the token has expired',
      (issuer) => issuer.token({ iat: now() - 600, exp: now() - 60 }),
      'expired',
    ),
    invalid(
      'a token not valid before a future nbf is refused (401)',
      'not_yet_valid',
      'the token is not yet valid',
      (issuer) => issuer.token({ nbf: now() + 120 }),
      'not-yet-valid',
    ),
    invalid(
      'a token issued longer ago than maxTokenAgeSeconds is too old (401)',
      'too_old',
      'the token is too old',
      (issuer) => issuer.token({ iat: now() - 7200, exp: now() + 600 }),
      'too-old',
    ),
    invalid(
      'a token whose exp - iat exceeds maxLifetimeSeconds has a lifetime too long (401)',
      'lifetime_too_long',
      'the token lifetime is too long',
      (issuer) => issuer.token({ exp: now() + 2 * 86400 }),
      'lifetime',
    ),
    invalid(
      'a token from an issuer the policy does not trust is refused (401)',
      'wrong_issuer',
      'the token issuer is not accepted',
      (issuer) => issuer.token({ iss: 'https://evil.example/' }),
      'wrong-issuer',
    ),
    invalid(
      'a token for another audience is refused (401)',
      'wrong_audience',
      'the token audience is not accepted',
      (issuer) => issuer.token({ aud: 'billing-api' }),
      'wrong-audience',
    ),
    invalid(
      'a token revoked by jti in the policy file is refused (401)',
      'revoked',
      'the token has been revoked',
      (issuer) => issuer.token({ jti: REVOKED_JTI }),
      'revoked',
    ),
    {
      ...invalid(
        `a token used more than maxUses (${CASE_MAX_USES}) times is refused as reused (401)`,
        'reused',
        'the token has been used too many times',
        (issuer) => {
          let token = reusedTokens.get(issuer);
          if (token === undefined) {
            token = issuer.token();
            reusedTokens.set(issuer, token);
          }
          return token;
        },
        'reused',
      ),
      warmUps: CASE_MAX_USES,
    },
    {
      name: 'a token without a required scope answers 403 insufficient_scope naming the scope',
      path: '/orders/admin/missing-scope',
      reason: 'insufficient_scope',
      status: 403,
      wwwAuthenticate: `${REALM}, error="insufficient_scope", error_description="the token lacks a required scope", scope="orders:admin"`,
      error: 'insufficient_scope',
      description: 'the token lacks a required scope',
      run: withToken((issuer) => issuer.token({ scope: 'orders:read', role: 'admin' })),
    },
    {
      name: 'a token with the scope but without a required claim answers 403 insufficient_scope naming the rule scope',
      path: '/orders/admin/missing-claim',
      reason: 'missing_claim',
      status: 403,
      wwwAuthenticate: `${REALM}, error="insufficient_scope", error_description="the token lacks a required claim", scope="orders:admin"`,
      error: 'insufficient_scope',
      description: 'the token lacks a required claim',
      run: withToken((issuer) => issuer.token({ scope: 'orders:read orders:admin', role: 'viewer' })),
    },
    {
      name: 'a token without a required claim on a claim-only rule answers 403 insufficient_scope',
      path: '/reports/missing-claim',
      reason: 'missing_claim',
      status: 403,
      wwwAuthenticate: `${REALM}, error="insufficient_scope", error_description="the token lacks a required claim"`,
      error: 'insufficient_scope',
      description: 'the token lacks a required claim',
      run: withToken((issuer) => issuer.token({ department: 'sales' })),
    },
    {
      name: 'a Deny rule answers 403 with no WWW-Authenticate, even to a valid token',
      path: '/admin/users',
      reason: 'denied_by_rule',
      status: 403,
      wwwAuthenticate: undefined,
      error: 'access_denied',
      description: 'access to this resource is denied',
      run: withToken((issuer) => issuer.token({ scope: 'orders:admin', role: 'admin' })),
    },
  ];
}
