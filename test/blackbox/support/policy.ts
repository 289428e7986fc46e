/** TokenPolicy / TokenRevocation documents for a standalone policy file, as YAML text. */
import { stringify } from 'yaml';
import { AUDIENCE, type Issuer } from './issuer.js';

export const POLICY_NAME = 'orders-api';

export interface RuleDoc {
  name: string;
  paths: string[];
  methods?: string[];
  action: 'Allow' | 'Authenticate' | 'Deny';
  requiredScopes?: string[];
  requiredClaims?: Record<string, string>;
}

export interface PolicyOptions {
  name?: string;
  mode?: 'Enforce' | 'Audit';
  audiences?: string[];
  algorithms?: string[];
  expiry?: Record<string, unknown>;
  maxUses?: number;
  rules?: RuleDoc[];
  forwardClaims?: { claim: string; header: string }[];
  /** Replaces the issuer entry wholesale (inline jwks, a second issuer…). */
  issuers?: Record<string, unknown>[];
  /** Further spec fields (forwardToken, trustedProxies, paths, http…), merged last. */
  spec?: Record<string, unknown>;
}

export function issuerEntry(issuer: Issuer, opts: PolicyOptions = {}): Record<string, unknown> {
  return {
    issuer: issuer.url,
    audiences: opts.audiences ?? [AUDIENCE],
    jwksUri: issuer.jwksUri,
    algorithms: opts.algorithms ?? ['RS256', 'ES256'],
  };
}

export function policyDoc(issuer: Issuer, opts: PolicyOptions = {}): string {
  const spec: Record<string, unknown> = {
    mode: opts.mode ?? 'Enforce',
    issuers: opts.issuers ?? [issuerEntry(issuer, opts)],
  };
  if (opts.expiry) spec.expiry = opts.expiry;
  if (opts.maxUses !== undefined) spec.reuse = { maxUses: opts.maxUses };
  if (opts.rules) spec.rules = opts.rules;
  if (opts.forwardClaims) spec.forwardClaims = opts.forwardClaims;
  Object.assign(spec, opts.spec);
  return stringify({
    apiVersion: 'tokenwarden.dev/v1alpha1',
    kind: 'TokenPolicy',
    metadata: { name: opts.name ?? POLICY_NAME },
    spec,
  });
}

export type RevocationEntry =
  { jti: string } | { tokenSha256: string } | { subject: string; issuer?: string; issuedBefore?: string };

export function revocationDoc(name: string, tokens: RevocationEntry[], reason = 'black-box test'): string {
  return stringify({
    apiVersion: 'tokenwarden.dev/v1alpha1',
    kind: 'TokenRevocation',
    metadata: { name },
    spec: { reason, tokens },
  });
}

/** Documents joined into one file. */
export function policyFile(...docs: string[]): string {
  return docs.join('---\n');
}
