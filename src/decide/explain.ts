/**
 * `tokenwarden check`: the same decision the proxy makes, from the same steps (steps.ts and the
 * verifier's chain) run in every-failure mode: EVERY failed check listed, the first of them the
 * proxy's reason. Reuse is not counted (a check is not a use).
 */
import { authorizationProblem } from '../token/credentials.js';
import { signedPartSha256 } from '../token/hash.js';
import type { DenyReason } from '../core/reasons.js';
import type { TokenVerifier } from '../token/verify.js';
import { requestToken, resolveRequest } from './request.js';
import type { Enforcement } from './state.js';
import {
  afterVerifyFailures,
  deniedByRule,
  malformedRequest,
  NO_TOKEN,
  type DecisionFailure,
} from './steps.js';

export interface ExplainInput {
  token: string;
  /** The request target: a path, with or without a query, exactly as a client would send it. */
  path: string;
  method: string;
}

export interface Explained {
  decision: 'allow' | 'deny';
  /** Audit mode would forward a denied request anyway. */
  mode: 'Enforce' | 'Audit';
  rule: { name: string; action: string } | undefined;
  path: string;
  reasons: { reason: DenyReason; description: string }[];
  token:
    | { fingerprint?: string; iss?: unknown; sub?: unknown; jti?: unknown; exp?: unknown; iat?: unknown }
    | undefined;
}

export async function explainRequest(
  active: Enforcement,
  verifier: TokenVerifier,
  input: ExplainInput,
  nowSeconds: number,
): Promise<Explained> {
  const policy = active.policy;
  // Every failure, in the order the proxy meets them (its first one is the proxy's decision).
  const failures: DecisionFailure[] = [];
  // The request the proxy would read: the same start of the decision (src/decide/request.ts).
  const method = input.method.toUpperCase();
  const request = resolveRequest(policy, {
    method,
    target: input.path,
    authorization: [`Bearer ${input.token}`],
    client: undefined,
  });
  if (request.problem !== undefined) failures.push(malformedRequest(`path: ${request.problem}`));
  const rule = request.rule;
  const path = request.path;
  const base = { mode: policy.mode, rule: rule && { name: rule.name, action: rule.action }, path };
  const done = (decision: 'allow' | 'deny', token: Explained['token']): Explained => ({
    ...base,
    decision,
    reasons: failures.map((f) => ({ reason: f.reason, description: f.description })),
    token,
  });

  if (rule?.action === 'Deny') failures.push(deniedByRule(rule, method, path));
  if (rule?.action === 'Allow') {
    const bad = authorizationProblem(request.facts.authorization);
    if (bad !== undefined) failures.push(malformedRequest(bad));
    if (failures.length === 0) return done('allow', undefined);
  }
  const extracted = requestToken(request);
  if (extracted.kind !== 'token') {
    failures.push(extracted.kind === 'none' ? NO_TOKEN : malformedRequest(extracted.description));
    return done('deny', undefined);
  }
  const explanation = await verifier.explain(extracted.token, policy, nowSeconds);
  for (const r of explanation.reasons) failures.push({ stage: 'token', ...r });
  const claims = explanation.claims;
  if (claims !== undefined) {
    // No reuse counter: a check is not a use.
    await afterVerifyFailures(
      {
        active,
        request,
        claims,
        tokenSha256: signedPartSha256(extracted.token),
        exp: typeof claims.exp === 'number' ? claims.exp : Infinity,
        nowSeconds,
        reuse: undefined,
      },
      failures,
    );
  }
  return done(failures.length === 0 ? 'allow' : 'deny', {
    fingerprint: explanation.fingerprint,
    iss: claims?.iss,
    sub: claims?.sub,
    jti: claims?.jti,
    exp: claims?.exp,
    iat: claims?.iat,
  });
}
