/**
 * TokenPolicy → CompiledPolicy: defaults filled in, lookups turned into Sets and Maps, once per
 * change, so the request path only reads. Pure. Assumes a validated policy (validate.ts); an
 * input that validation would refuse is a programmer error and throws.
 */
import { createHash } from 'node:crypto';
import { parseCidr, TrustedProxies } from './cidr.js';
import { compileReuse } from './compile-reuse.js';
import {
  DEFAULT_ALGORITHMS,
  type Cidr,
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
  forwardToken: false,
  caseInsensitivePaths: false,
  matrixParameters: 'Reject',
  allowUnderscoreHeaders: false,
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

/**
 * One spelling per media type, as RFC 7515 §4.1.9 reads `typ`: case-insensitive, and
 * `application/` may be left out (`AT+JWT`, `application/at+jwt` and `at+jwt` are one type).
 */
export function typeKey(typ: string): string {
  const lower = typ.toLowerCase();
  return lower.startsWith('application/') ? lower.slice('application/'.length) : lower;
}

function compileIssuer(i: IssuerSpec): CompiledIssuer {
  return Object.freeze({
    issuer: i.issuer,
    audiences: new Set(i.audiences),
    algorithms: new Set(i.algorithms ?? DEFAULT_ALGORITHMS),
    keySource: keySource(i),
    expectedTypes: i.expectedTypes === undefined ? undefined : new Set(i.expectedTypes.map(typeKey)),
    receiver:
      i.receiver === undefined
        ? undefined
        : Object.freeze({ audience: i.receiver.audience, events: new Set(i.receiver.events) }),
  });
}

function compileTrustedProxies(list: readonly string[] | undefined): TrustedProxies | undefined {
  if (list === undefined || list.length === 0) return undefined;
  const cidrs: Cidr[] = list.map((text) => {
    const parsed = parseCidr(text);
    if (!parsed.ok) throw new Error(`compilePolicy: trustedProxies "${text}": ${parsed.message}`);
    return parsed.cidr;
  });
  return new TrustedProxies(cidrs);
}

/**
 * `/x/*` becomes the prefix `/x/` (rules.ts also lets it match `/x`); other paths are exact.
 * With `caseInsensitive`, rule paths are lower-cased here and request paths before matching.
 */
function compileRule(r: RuleSpec, caseInsensitive: boolean): CompiledRule {
  const exact = new Set<string>();
  const prefixes: string[] = [];
  for (const raw of r.paths) {
    const p = caseInsensitive ? raw.toLowerCase() : raw;
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
  const caseInsensitive = spec.paths?.caseInsensitive ?? DEFAULTS.caseInsensitivePaths;
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
    reuse: compileReuse(spec.reuse),
    rules: Object.freeze((spec.rules ?? []).map((r) => compileRule(r, caseInsensitive))),
    forwardClaims: Object.freeze(
      (spec.forwardClaims ?? []).map((f) =>
        Object.freeze({ claim: f.claim, header: f.header.toLowerCase() }),
      ),
    ),
    forwardToken: spec.forwardToken ?? DEFAULTS.forwardToken,
    trustedProxies: compileTrustedProxies(spec.trustedProxies),
    paths: Object.freeze({
      caseInsensitive,
      matrixParameters: spec.paths?.matrixParameters ?? DEFAULTS.matrixParameters,
    }),
    allowUnderscoreHeaders: spec.http?.allowUnderscoreHeaders ?? DEFAULTS.allowUnderscoreHeaders,
    specHash: specHash(p, namespace),
  });
}
