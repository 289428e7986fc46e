/**
 * `tokenwarden check`: the same decision the proxy makes, but with EVERY failed check listed,
 * not only the first. Reuse is not counted (a check is not a use).
 */
import { explainRule } from '../policy/evaluate.js';
import { matchRule } from '../policy/rules.js';
import { normalisePath } from '../policy/normalize.js';
import { extractToken } from '../token/extract.js';
import { signedPartSha256 } from '../token/hash.js';
import type { DenyReason } from '../core/reasons.js';
import type { TokenVerifier } from '../token/verify.js';
import type { ActiveConfig } from './state.js';

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
  const reasons: Explained['reasons'] = [];
  const normalised = normalisePath(input.path, {
    matrixParameters: policy.paths?.matrixParameters ?? 'Reject',
  });
  const path = normalised.ok ? normalised.path : input.path;
  if (!normalised.ok) reasons.push({ reason: 'malformed', description: `path: ${normalised.description}` });
  const method = input.method.toUpperCase();
  // As the engine does: with caseInsensitive, rule paths were lower-cased at compile time.
  const matchPath = policy.paths?.caseInsensitive === true ? path.toLowerCase() : path;
  const rule = normalised.ok ? matchRule(policy.rules, matchPath, method) : undefined;
  const base = { mode: policy.mode, rule: rule && { name: rule.name, action: rule.action }, path };

  if (rule?.action === 'Deny') {
    reasons.push({ reason: 'denied_by_rule', description: `rule ${rule.name} denies ${method} ${path}` });
  }
  if (rule?.action === 'Allow' && reasons.length === 0) {
    return { ...base, decision: 'allow', reasons, token: undefined };
  }
  const extracted = extractToken(`Bearer ${input.token}`, '');
  if (extracted.kind !== 'token') {
    reasons.push({ reason: 'malformed', description: 'the token is not a bearer token (b64token syntax)' });
    return { ...base, decision: 'deny', reasons, token: undefined };
  }
  const explanation = await verifier.explain(extracted.token, policy, nowSeconds);
  reasons.push(...explanation.reasons);
  const claims = explanation.claims;
  if (claims !== undefined) {
    const revokedBy = active.revocations.match({
      jti: typeof claims.jti === 'string' ? claims.jti : undefined,
      tokenSha256: signedPartSha256(extracted.token),
      sub: typeof claims.sub === 'string' ? claims.sub : undefined,
      iss: typeof claims.iss === 'string' ? claims.iss : '',
      iat: typeof claims.iat === 'number' ? claims.iat : undefined,
    });
    if (revokedBy !== undefined)
      reasons.push({ reason: 'revoked', description: `revoked by TokenRevocation ${revokedBy}` });
    if (policy.maxUses > 0 && typeof claims.jti !== 'string') {
      reasons.push({ reason: 'malformed', description: 'reuse.maxUses is set and the token has no jti' });
    }
    if (rule !== undefined && rule.action === 'Authenticate') {
      for (const f of explainRule(rule, claims))
        reasons.push({ reason: f.reason, description: f.description });
    }
  }
  return {
    ...base,
    decision: reasons.length === 0 ? 'allow' : 'deny',
    reasons,
    token: {
      fingerprint: explanation.fingerprint,
      iss: claims?.iss,
      sub: claims?.sub,
      jti: claims?.jti,
      exp: claims?.exp,
      iat: claims?.iat,
    },
  };
}
