/**
 * Static checks of crds/: each file parses, is a structural schema the API server will accept,
 * bounds every string, list and map (the API server estimates CEL cost from these bounds and
 * refuses a CRD that could cost too much), and declares exactly the fields of the API types in
 * src/policy/types.ts. What the rules accept and refuse is tested against a real API server in
 * test/integration/crds-*.test.ts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { MAX_METHOD_LENGTH, METHOD_NAME } from '../../../src/policy/validate-rules.js';
import {
  ALGORITHMS,
  MATRIX_PARAMETERS,
  type ExpirySpec,
  type ForwardClaimSpec,
  type HttpSpec,
  type IssuerSpec,
  type PathsSpec,
  type Mode,
  type RevocationEntry,
  type RuleAction,
  type RuleSpec,
  type TokenPolicySpec,
  type TokenPolicyStatus,
  type TokenRevocationSpec,
} from '../../../src/policy/types.js';

interface Schema {
  type?: string;
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
  items?: Schema;
  required?: string[];
  enum?: unknown[];
  default?: unknown;
  maxLength?: number;
  maxItems?: number;
  maxProperties?: number;
  format?: string;
  'x-kubernetes-list-type'?: string;
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-validations'?: { rule?: unknown; message?: unknown; messageExpression?: unknown }[];
  'x-kubernetes-preserve-unknown-fields'?: boolean;
}

interface Crd {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec: {
    group: string;
    scope: string;
    names: { kind: string; plural: string; singular: string; shortNames?: string[]; categories?: string[] };
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      subresources?: { status?: object };
      additionalPrinterColumns?: { name: string; type: string; jsonPath: string }[];
      schema: { openAPIV3Schema: Schema };
    }[];
  };
}

const dir = fileURLToPath(new URL('../../../crds/', import.meta.url));
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml'))
  .sort();

function load(file: string): Crd {
  const docs = parseAllDocuments(readFileSync(join(dir, file), 'utf8'));
  expect(docs).toHaveLength(1);
  const doc = docs[0]!;
  expect(doc.errors).toEqual([]);
  return doc.toJS() as Crd;
}

const crds = new Map(files.map((f) => [f, load(f)]));
const crd = (name: string): Crd => {
  const c = crds.get(`${name}.yaml`);
  if (!c) throw new Error(`crds/${name}.yaml missing`);
  return c;
};
const rootSchema = (c: Crd): Schema => c.spec.versions[0]!.schema.openAPIV3Schema;

/** Every schema node with its path (`.spec.issuers[*].jwksUri`). */
function* walk(s: Schema, path = ''): Generator<[string, Schema]> {
  yield [path, s];
  for (const [k, v] of Object.entries(s.properties ?? {})) yield* walk(v, `${path}.${k}`);
  if (s.items) yield* walk(s.items, `${path}[*]`);
  if (typeof s.additionalProperties === 'object') yield* walk(s.additionalProperties, `${path}{*}`);
}

/** Problems that would make the API server refuse the CRD, or leave a field unbounded. */
function problems(c: Crd): string[] {
  const out: string[] = [];
  for (const [path, s] of walk(rootSchema(c))) {
    const at = path || '(root)';
    if (!s.type) out.push(`${at}: no type (not structural)`);
    if (s['x-kubernetes-preserve-unknown-fields']) out.push(`${at}: preserves unknown fields`);
    // The API server owns the top-level type fields and metadata.
    if (path === '.metadata' || path === '.apiVersion' || path === '.kind') continue;
    if (s.type === 'object' && !s.properties && !s.additionalProperties) {
      out.push(`${at}: object without properties (every field would be pruned)`);
    }
    if (s.type === 'object' && s.additionalProperties && s.maxProperties === undefined) {
      out.push(`${at}: map without maxProperties`);
    }
    if (s.type === 'string' && s.maxLength === undefined && !s.enum)
      out.push(`${at}: string without maxLength`);
    if (s.type === 'array') {
      if (s.maxItems === undefined) out.push(`${at}: list without maxItems`);
      if (!s.items) out.push(`${at}: list without items`);
      if (!s['x-kubernetes-list-type']) out.push(`${at}: list without x-kubernetes-list-type`);
    }
    if (s['x-kubernetes-list-type'] === 'map') {
      for (const key of s['x-kubernetes-list-map-keys'] ?? []) {
        if (!s.items?.required?.includes(key)) out.push(`${at}: list-map key ${key} is not required`);
      }
    }
    for (const [k, v] of Object.entries(s.properties ?? {})) {
      if (s.required?.includes(k) && v.default !== undefined) out.push(`${at}.${k}: required and defaulted`);
    }
    for (const r of s.required ?? [])
      if (!s.properties?.[r]) out.push(`${at}: required ${r} is not a property`);
    if (s.enum && s.enum.some((e) => typeof e !== s.type)) out.push(`${at}: enum value of the wrong type`);
    if (s.default !== undefined && s.enum && !s.enum.includes(s.default))
      out.push(`${at}: default not in enum`);
    for (const [i, v] of (s['x-kubernetes-validations'] ?? []).entries()) {
      if (typeof v.rule !== 'string' || v.rule.trim() === '') out.push(`${at}: validation ${i} without rule`);
      if (typeof v.message !== 'string' && typeof v.messageExpression !== 'string') {
        out.push(`${at}: validation ${i} without message`);
      }
    }
  }
  return out;
}

const keys = (s: Schema | undefined): string[] => Object.keys(s?.properties ?? {}).sort();
const sorted = (o: object): string[] => Object.keys(o).sort();
const at = (s: Schema, ...path: string[]): Schema => {
  let cur: Schema | undefined = s;
  for (const p of path) cur = p === '[*]' ? cur?.items : cur?.properties?.[p];
  if (!cur) throw new Error(`no schema at ${path.join('.')}`);
  return cur;
};

// Compile-time link to src/policy/types.ts: adding a field to a type without listing it here,
// or listing one the type lacks, fails the typecheck; the tests then compare with the CRDs.
const policySpecFields = {
  selector: true,
  targetPort: true,
  mode: true,
  issuers: true,
  expiry: true,
  reuse: true,
  rules: true,
  forwardClaims: true,
  forwardToken: true,
  trustedProxies: true,
  paths: true,
  http: true,
} satisfies Record<keyof TokenPolicySpec, true>;
const pathsFields = { caseInsensitive: true, matrixParameters: true } satisfies Record<keyof PathsSpec, true>;
const httpFields = { allowUnderscoreHeaders: true } satisfies Record<keyof HttpSpec, true>;
const issuerFields = {
  issuer: true,
  audiences: true,
  jwksUri: true,
  discovery: true,
  jwks: true,
  algorithms: true,
  expectedTypes: true,
  receiver: true,
} satisfies Record<keyof IssuerSpec, true>;
const expiryFields = {
  requireExp: true,
  clockSkewSeconds: true,
  maxTokenAgeSeconds: true,
  maxLifetimeSeconds: true,
} satisfies Record<keyof ExpirySpec, true>;
const ruleFields = {
  name: true,
  paths: true,
  methods: true,
  action: true,
  requiredScopes: true,
  requiredClaims: true,
} satisfies Record<keyof RuleSpec, true>;
const forwardFields = { claim: true, header: true } satisfies Record<keyof ForwardClaimSpec, true>;
const policyStatusFields = {
  observedGeneration: true,
  conditions: true,
  matchedPods: true,
  syncedSidecars: true,
  revocations: true,
  unprotectedPods: true,
  unprotectedByReason: true,
} satisfies Record<keyof TokenPolicyStatus, true>;
const revocationSpecFields = {
  policyName: true,
  reason: true,
  expiresAt: true,
  tokens: true,
} satisfies Record<keyof TokenRevocationSpec, true>;
const entryFields = {
  jti: true,
  tokenSha256: true,
  subject: true,
  sid: true,
  issuer: true,
  issuedBefore: true,
} satisfies Record<keyof RevocationEntry, true>;
const modes = { Enforce: true, Audit: true } satisfies Record<Mode, true>;
const actions = { Allow: true, Authenticate: true, Deny: true } satisfies Record<RuleAction, true>;

describe('crds/', () => {
  it('holds the two CRDs', () => {
    expect(files).toEqual(['tokenpolicies.tokenwarden.dev.yaml', 'tokenrevocations.tokenwarden.dev.yaml']);
  });

  describe.each(files)('%s', (file) => {
    const c = crds.get(file)!;

    it('is an apiextensions.k8s.io/v1 CRD named after its file', () => {
      expect(c.apiVersion).toBe('apiextensions.k8s.io/v1');
      expect(c.kind).toBe('CustomResourceDefinition');
      expect(`${c.metadata.name}.yaml`).toBe(file);
      expect(c.metadata.name).toBe(`${c.spec.names.plural}.${c.spec.group}`);
      expect(c.spec.group).toBe('tokenwarden.dev');
      expect(c.spec.scope).toBe('Namespaced');
      expect(c.spec.names.categories).toEqual(['tokenwarden']);
    });

    it('serves and stores v1alpha1 with a status subresource and printer columns', () => {
      expect(c.spec.versions).toHaveLength(1);
      const v = c.spec.versions[0]!;
      expect(v).toMatchObject({
        name: 'v1alpha1',
        served: true,
        storage: true,
        subresources: { status: {} },
      });
      expect(v.additionalPrinterColumns?.at(-1)).toEqual({
        name: 'Age',
        type: 'date',
        jsonPath: '.metadata.creationTimestamp',
      });
    });

    it('is structural and bounds every string, list and map', () => {
      expect(problems(c)).toEqual([]);
    });

    it('requires spec and has a status schema', () => {
      const s = rootSchema(c);
      expect(s.required).toEqual(['spec']);
      expect(keys(s)).toEqual(['apiVersion', 'kind', 'metadata', 'spec', 'status']);
    });
  });

  describe('TokenPolicy', () => {
    const s = rootSchema(crd('tokenpolicies.tokenwarden.dev'));
    const spec = at(s, 'spec');

    it('declares exactly the fields of the API types', () => {
      expect(keys(spec)).toEqual(sorted(policySpecFields));
      expect(keys(at(spec, 'issuers', '[*]'))).toEqual(sorted(issuerFields));
      expect(keys(at(spec, 'expiry'))).toEqual(sorted(expiryFields));
      expect(keys(at(spec, 'rules', '[*]'))).toEqual(sorted(ruleFields));
      expect(keys(at(spec, 'forwardClaims', '[*]'))).toEqual(sorted(forwardFields));
      expect(keys(at(spec, 'paths'))).toEqual(sorted(pathsFields));
      expect(keys(at(spec, 'http'))).toEqual(sorted(httpFields));
      expect(keys(at(s, 'status'))).toEqual(sorted(policyStatusFields));
    });

    it('takes its enums from the API types', () => {
      expect(at(spec, 'issuers', '[*]', 'algorithms', '[*]').enum).toEqual([...ALGORITHMS]);
      expect(at(spec, 'mode').enum?.slice().sort()).toEqual(sorted(modes));
      expect(at(spec, 'rules', '[*]', 'action').enum?.slice().sort()).toEqual(sorted(actions));
      // The method syntax is a CEL rule (its message says to omit methods), the validator's METHOD_NAME.
      const rule = String(at(spec, 'rules', '[*]', 'methods', '[*]')['x-kubernetes-validations']?.[0]?.rule);
      expect(rule).toBe(`self.matches("${METHOD_NAME.source}")`);
      expect(at(spec, 'rules', '[*]', 'methods', '[*]').maxLength).toBe(MAX_METHOD_LENGTH);
      expect(at(spec, 'paths', 'matrixParameters').enum).toEqual([...MATRIX_PARAMETERS]);
    });

    it('requires selector, targetPort and issuers', () => {
      expect(spec.required?.slice().sort()).toEqual(['issuers', 'selector', 'targetPort']);
      expect(at(spec, 'targetPort')).toMatchObject({ type: 'integer', minimum: 1, maximum: 65535 });
    });

    it('has the printer columns kubectl get shows', () => {
      const cols = crd('tokenpolicies.tokenwarden.dev').spec.versions[0]!.additionalPrinterColumns!;
      expect(cols.map((c) => c.name)).toEqual([
        'Mode',
        'Ready',
        'Matched',
        'Synced',
        'Unprotected',
        'Reason',
        'Port',
        'Age',
      ]);
    });
  });

  describe('TokenRevocation', () => {
    const s = rootSchema(crd('tokenrevocations.tokenwarden.dev'));
    const spec = at(s, 'spec');

    it('declares exactly the fields of the API types', () => {
      expect(keys(spec)).toEqual(sorted(revocationSpecFields));
      expect(keys(at(spec, 'tokens', '[*]'))).toEqual(sorted(entryFields));
      expect(keys(at(s, 'status'))).toEqual([
        'acknowledgedAt',
        'acknowledgedGeneration',
        'acknowledgedSidecars',
        'conditions',
        'entries',
        'observedGeneration',
        'propagationSeconds',
      ]);
    });

    it('requires between 1 and 1000 entries', () => {
      expect(spec.required).toEqual(['tokens']);
      expect(at(spec, 'tokens')).toMatchObject({ minItems: 1, maxItems: 1000 });
    });

    it('has the printer columns kubectl get shows', () => {
      const cols = crd('tokenrevocations.tokenwarden.dev').spec.versions[0]!.additionalPrinterColumns!;
      expect(cols.map((c) => c.name)).toEqual([
        'Policy',
        'Entries',
        'Expires',
        'Acked',
        'Reason',
        'Propagation',
        'Age',
      ]);
    });
  });
});
