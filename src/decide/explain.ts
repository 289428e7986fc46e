/**
 * `tokenwarden check`: the same decision the proxy makes, from the same steps (steps.ts and the
 * verifier's chain) run in every-failure mode: EVERY failed check listed, the first of them the
 * proxy's reason. Reuse is not counted (a check is not a use).
 */
import { matchRule } from '../policy/rules.js';
import { normalisePath } from '../policy/normalize.js';
import { extractToken } from '../token/extract.js';
import { signedPartSha256 } from '../token/hash.js';
import type { DenyReason } from '../core/reasons.js';
import type { TokenVerifier } from '../token/verify.js';
import type { ActiveConfig } from './state.js';
import {
  afterVerifyFailures,
  deniedByRule,
  malformedRequest,
  NO_TOKEN,
  type DecisionFailure,
} from './steps.js';

export interface ExplainInput {
  token: string;
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
  active: ActiveConfig,
  verifier: TokenVerifier,
  input: ExplainInput,
  nowSeconds: number,
): Promise<Explained> {
  const policy = active.policy;
  // Every failure, in the order the proxy meets them (its first one is the proxy's decision).
  const failures: DecisionFailure[] = [];
  const normalised = normalisePath(input.path, {
    matrixParameters: policy.paths?.matrixParameters ?? 'Reject',
  });
  const path = normalised.ok ? normalised.path : input.path;
  if (!normalised.ok) failures.push(malformedRequest(`path: ${normalised.description}`));
  const method = input.method.toUpperCase();
  // As the engine does: with caseInsensitive, rule paths were lower-cased at compile time.
  const matchPath = policy.paths?.caseInsensitive === true ? path.toLowerCase() : path;
  const rule = normalised.ok ? matchRule(policy.rules, matchPath, method) : undefined;
  const base = { mode: policy.mode, rule: rule && { name: rule.name, action: rule.action }, path };
  const done = (decision: 'allow' | 'deny', token: Explained['token']): Explained => ({
    ...base,
    decision,
    reasons: failures.map((f) => ({ reason: f.reason, description: f.description })),
    token,
  });

  if (rule?.action === 'Deny') failures.push(deniedByRule(rule, method, path));
  if (rule?.action === 'Allow' && failures.length === 0) return done('allow', undefined);
  const extracted = extractToken(`Bearer ${input.token}`, '');
  if (extracted.kind !== 'token') {
    failures.push(extracted.kind === 'none' ? NO_TOKEN : malformedRequest(extracted.description));
    return done('deny', undefined);
  }
  const explanation = await verifier.explain(extracted.token, policy, nowSeconds);
  for (const r of explanation.reasons) failures.push({ stage: 'token', ...r });
  const claims = explanation.claims;
  if (claims !== undefined) {
    // No countUse: a check is not a use.
    afterVerifyFailures({ active, rule, claims, tokenSha256: signedPartSha256(extracted.token) }, failures);
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
