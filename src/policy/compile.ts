/**
 * TokenPolicy → CompiledPolicy: defaults filled in, lookups turned into Sets and Maps, once per
 * change, so the request path only reads. Pure. Assumes a validated policy (validate.ts); an
 * input that validation would refuse is a programmer error and throws.
 */
import { createHash } from 'node:crypto';
import {
  DEFAULT_ALGORITHMS,
  type CompiledIssuer,
  type CompiledPolicy,
  type CompiledRule,
  type IssuerSpec,
  type KeySourceSpec,
  type RuleSpec,
  type TokenPolicy,
} from './types.js';

export const DEFAULTS = Object.freeze({
  mode: 'Enforce',
  requireExp: true,
  clockSkewSeconds: 30,
  maxUses: 0,
  namespace: 'default',
  generation: 0,
} as const);

/** JSON with object keys sorted at every level: equal data, equal text, whatever the key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v ?? null)).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function keySource(i: IssuerSpec): KeySourceSpec {
  if (i.jwksUri !== undefined) return { kind: 'jwksUri', uri: i.jwksUri };
  if (i.discovery === true) return { kind: 'discovery', issuer: i.issuer };
  if (i.jwks !== undefined) return { kind: 'inline', keys: i.jwks.keys };
  throw new Error(`compilePolicy: issuer ${i.issuer} has no key source (validate the policy first)`);
}

function compileIssuer(i: IssuerSpec): CompiledIssuer {
  return Object.freeze({
    issuer: i.issuer,
    audiences: new Set(i.audiences),
    algorithms: new Set(i.algorithms ?? DEFAULT_ALGORITHMS),
    keySource: keySource(i),
  });
}

/** `/x/*` becomes the prefix `/x/` (rules.ts also lets it match `/x`); other paths are exact. */
function compileRule(r: RuleSpec): CompiledRule {
  const exact = new Set<string>();
  const prefixes: string[] = [];
  for (const p of r.paths) {
    if (p.endsWith('/*')) prefixes.push(p.slice(0, -1));
    else exact.add(p);
  }
  return Object.freeze({
    name: r.name,
    exact,
    prefixes: Object.freeze(prefixes),
    methods: r.methods === undefined ? undefined : new Set(r.methods),
    // The CRD defaults `action`; a policy built in code may still leave it out.
    action: (r.action as RuleSpec['action'] | undefined) ?? 'Authenticate',
    requiredScopes: Object.freeze([...(r.requiredScopes ?? [])]),
    requiredClaims: Object.freeze(
      Object.entries(r.requiredClaims ?? {}).map(([k, v]) => Object.freeze([k, v] as const)),
    ),
  });
}

/**
 * Hash of what the policy enforces, under its identity: name and namespace are included so a
 * renamed policy is not mistaken for the one already running (metrics carry the name).
 */
function specHash(p: TokenPolicy, namespace: string): string {
  const text = canonicalJson({ name: p.metadata.name, namespace, spec: p.spec });
  return createHash('sha256').update(text).digest('hex');
}

export function compilePolicy(p: TokenPolicy): CompiledPolicy {
  const { spec } = p;
  const namespace = p.metadata.namespace ?? DEFAULTS.namespace;
  const expiry = spec.expiry ?? {};
  return Object.freeze({
    name: p.metadata.name,
    namespace,
    generation: p.metadata.generation ?? DEFAULTS.generation,
    mode: spec.mode ?? DEFAULTS.mode,
    targetPort: spec.targetPort,
    issuers: new Map(spec.issuers.map((i) => [i.issuer, compileIssuer(i)] as const)),
    expiry: Object.freeze({
      requireExp: expiry.requireExp ?? DEFAULTS.requireExp,
      clockSkewSeconds: expiry.clockSkewSeconds ?? DEFAULTS.clockSkewSeconds,
      maxTokenAgeSeconds: expiry.maxTokenAgeSeconds,
      maxLifetimeSeconds: expiry.maxLifetimeSeconds,
    }),
    maxUses: spec.reuse?.maxUses ?? DEFAULTS.maxUses,
    rules: Object.freeze((spec.rules ?? []).map(compileRule)),
    forwardClaims: Object.freeze(
      (spec.forwardClaims ?? []).map((f) =>
        Object.freeze({ claim: f.claim, header: f.header.toLowerCase() }),
      ),
    ),
    specHash: specHash(p, namespace),
  });
}
