/**
 * The CRDs of crds/ on a real kube-apiserver: good manifests are stored (with their defaults),
 * bad ones are refused with 422 and a message naming the field, printer columns render, and the
 * status subresource behaves as a status subresource.
 */
import {
  ApiException,
  ApiextensionsV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
} from '@kubernetes/client-node';
import { generateKeyPairSync } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { readCrds } from './harness/crds.js';
import { freshNamespace, loadKubeConfig } from './harness/namespace.js';
import { kubeRequest } from './harness/raw.js';

const group = 'tokenwarden.dev';
const version = 'v1alpha1';
// Manifests are plain JSON that the cases below mutate freely; the API server is the type checker here.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = Record<string, any>;

function publicJwk(type: 'ec' | 'rsa' | 'ed25519'): Obj {
  const { publicKey } =
    type === 'ec'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : type === 'rsa'
        ? generateKeyPairSync('rsa', { modulusLength: 2048 })
        : generateKeyPairSync('ed25519');
  return publicKey.export({ format: 'jwk' });
}

const ecKey = { ...publicJwk('ec'), kid: 'ec-1', use: 'sig', alg: 'ES256' };
const rsaKey = { ...publicJwk('rsa'), kid: 'rsa-1' };
const edKey = { ...publicJwk('ed25519'), kid: 'ed-1', key_ops: ['verify'] };

/** The README's example, plus every key source and every optional field. */
function goodPolicy(name = 'orders-api'): Obj {
  return {
    apiVersion: `${group}/${version}`,
    kind: 'TokenPolicy',
    metadata: { name },
    spec: {
      selector: {
        matchLabels: { app: 'orders' },
        matchExpressions: [{ key: 'tier', operator: 'In', values: ['web', 'api'] }],
      },
      targetPort: 8080,
      mode: 'Enforce',
      issuers: [
        {
          issuer: 'https://auth.example.com/',
          audiences: ['orders-api'],
          jwksUri: 'https://auth.example.com/.well-known/jwks.json',
          algorithms: ['RS256', 'ES256'],
        },
        {
          issuer: 'https://login.example.org/realms/shop',
          audiences: ['orders-api', 'shop'],
          discovery: true,
        },
        {
          issuer: 'ci',
          audiences: ['orders-api'],
          jwks: { keys: structuredClone([ecKey, rsaKey, edKey]) },
          algorithms: ['ES256', 'RS256', 'PS512', 'EdDSA'],
        },
        {
          issuer: 'http://127.0.0.1:8443/',
          audiences: ['local'],
          jwksUri: 'http://127.0.0.1:8443/jwks.json',
        },
        { issuer: 'dev-v6', audiences: ['local'], jwksUri: 'http://[::1]:9000/jwks' },
        {
          issuer: 'dev-localhost',
          audiences: ['local'],
          jwksUri: 'http://localhost:9000/jwks',
          discovery: false,
        },
      ],
      expiry: { requireExp: true, clockSkewSeconds: 30, maxTokenAgeSeconds: 3600, maxLifetimeSeconds: 86400 },
      reuse: { maxUses: 0 },
      rules: [
        { name: 'health', paths: ['/healthz', '/readyz'], methods: ['GET'], action: 'Allow' },
        {
          name: 'admin',
          paths: ['/admin/*'],
          requiredScopes: ['orders:admin'],
          requiredClaims: { role: 'admin' },
        },
        { name: 'internal', paths: ['/internal/*', '/'], methods: ['POST', 'DELETE'], action: 'Deny' },
        { name: 'everything', paths: ['/*'], action: 'Authenticate' },
      ],
      forwardClaims: [
        { claim: 'sub', header: 'X-Auth-Subject' },
        { claim: 'email', header: 'x-auth-email' },
      ],
      forwardToken: false,
      trustedProxies: ['10.0.0.0/8', '192.168.1.7/32', 'fd00::/8'],
      paths: { caseInsensitive: false, matrixParameters: 'Reject' },
      http: { allowUnderscoreHeaders: false },
    },
  };
}

function goodRevocation(name = 'leaked-ci-token'): Obj {
  return {
    apiVersion: `${group}/${version}`,
    kind: 'TokenRevocation',
    metadata: { name },
    spec: {
      policyName: 'orders-api',
      reason: 'token printed in CI logs',
      expiresAt: '2026-12-01T00:00:00Z',
      tokens: [
        { jti: '4f1c2e' },
        { tokenSha256: '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08' },
        { subject: 'user-42', issuer: 'https://auth.example.com/', issuedBefore: '2026-11-29T10:00:00Z' },
        { subject: 'user-43' },
      ],
    },
  };
}

interface BadCase {
  name: string;
  kind: 'policy' | 'revocation';
  mutate: (spec: Obj) => void;
  /** Field path that the API server's message must name. */
  field: string;
}

const issuer0 = (spec: Obj): Obj => spec.issuers[0] as Obj;

const badCases: BadCase[] = [
  // --- TokenPolicy: required fields and bounds
  {
    name: 'a policy without targetPort',
    kind: 'policy',
    mutate: (s) => delete s.targetPort,
    field: 'spec.targetPort',
  },
  {
    name: 'a targetPort above 65535',
    kind: 'policy',
    mutate: (s) => (s.targetPort = 65536),
    field: 'spec.targetPort',
  },
  { name: 'a targetPort of 0', kind: 'policy', mutate: (s) => (s.targetPort = 0), field: 'spec.targetPort' },
  {
    name: 'the sidecar proxy port as targetPort',
    kind: 'policy',
    mutate: (s) => (s.targetPort = 15080),
    field: 'spec.targetPort',
  },
  {
    name: 'the sidecar admin port as targetPort',
    kind: 'policy',
    mutate: (s) => (s.targetPort = 15090),
    field: 'spec.targetPort',
  },
  {
    name: 'a policy without selector',
    kind: 'policy',
    mutate: (s) => delete s.selector,
    field: 'spec.selector',
  },
  {
    name: 'an In selector expression without values',
    kind: 'policy',
    mutate: (s) => (s.selector.matchExpressions = [{ key: 'tier', operator: 'In' }]),
    field: 'spec.selector.matchExpressions[0].values',
  },
  { name: 'a mode outside the enum', kind: 'policy', mutate: (s) => (s.mode = 'Block'), field: 'spec.mode' },
  // --- issuers
  { name: 'an empty issuer list', kind: 'policy', mutate: (s) => (s.issuers = []), field: 'spec.issuers' },
  {
    name: 'more than 16 issuers',
    kind: 'policy',
    mutate: (s) =>
      (s.issuers = Array.from({ length: 17 }, (_, i) => ({
        issuer: `https://idp${i}.example.com/`,
        audiences: ['a'],
        discovery: true,
      }))),
    field: 'spec.issuers',
  },
  {
    name: 'two issuers with the same issuer',
    kind: 'policy',
    mutate: (s) => (s.issuers[1] = { ...issuer0(s) }),
    field: 'spec.issuers[1]',
  },
  {
    name: 'an issuer with two key sources',
    kind: 'policy',
    mutate: (s) => (issuer0(s).discovery = true),
    field: 'spec.issuers[0]',
  },
  {
    name: 'an issuer without a key source',
    kind: 'policy',
    mutate: (s) => delete issuer0(s).jwksUri,
    field: 'spec.issuers[0]',
  },
  {
    name: 'an issuer with discovery: false as its only key source',
    kind: 'policy',
    mutate: (s) => {
      delete issuer0(s).jwksUri;
      issuer0(s).discovery = false;
    },
    field: 'spec.issuers[0]',
  },
  {
    name: 'an issuer without audiences',
    kind: 'policy',
    mutate: (s) => delete issuer0(s).audiences,
    field: 'spec.issuers[0].audiences',
  },
  {
    name: 'an empty audience list',
    kind: 'policy',
    mutate: (s) => (issuer0(s).audiences = []),
    field: 'spec.issuers[0].audiences',
  },
  {
    name: 'a plain-http jwksUri to a remote host',
    kind: 'policy',
    mutate: (s) => (issuer0(s).jwksUri = 'http://auth.example.com/jwks.json'),
    field: 'spec.issuers[0].jwksUri',
  },
  {
    name: 'a plain-http jwksUri to a host that merely starts with 127.',
    kind: 'policy',
    mutate: (s) => (issuer0(s).jwksUri = 'http://127.0.0.1.nip.io/jwks.json'),
    field: 'spec.issuers[0].jwksUri',
  },
  {
    name: 'a jwksUri that is not a URL',
    kind: 'policy',
    mutate: (s) => (issuer0(s).jwksUri = 'auth.example.com/jwks.json'),
    field: 'spec.issuers[0].jwksUri',
  },
  {
    name: 'a jwksUri with another scheme',
    kind: 'policy',
    mutate: (s) => (issuer0(s).jwksUri = 'ftp://auth.example.com/jwks.json'),
    field: 'spec.issuers[0].jwksUri',
  },
  {
    name: 'discovery with an issuer that is not a URL',
    kind: 'policy',
    mutate: (s) => (s.issuers[1].issuer = 'login-service'),
    field: 'spec.issuers[1].issuer',
  },
  {
    name: 'an inline JWKS without keys',
    kind: 'policy',
    mutate: (s) => (s.issuers[2].jwks.keys = []),
    field: 'spec.issuers[2].jwks.keys',
  },
  {
    name: 'an inline JWK with the private member d',
    kind: 'policy',
    mutate: (s) => (s.issuers[2].jwks.keys[0].d = 'c2VjcmV0'),
    field: 'spec.issuers[2].jwks.keys[0].d',
  },
  {
    name: 'an inline RSA JWK with the private member qi',
    kind: 'policy',
    mutate: (s) => (s.issuers[2].jwks.keys[1].qi = 'c2VjcmV0'),
    field: 'spec.issuers[2].jwks.keys[1].qi',
  },
  {
    name: 'an inline symmetric (oct) JWK',
    kind: 'policy',
    mutate: (s) => (s.issuers[2].jwks.keys = [{ kty: 'oct', k: 'c2VjcmV0c2VjcmV0' }]),
    field: 'spec.issuers[2].jwks.keys[0].kty',
  },
  {
    name: 'an inline JWK carrying a symmetric k',
    kind: 'policy',
    mutate: (s) => (s.issuers[2].jwks.keys[0].k = 'c2VjcmV0'),
    field: 'spec.issuers[2].jwks.keys[0].k',
  },
  {
    name: 'an inline EC JWK without y',
    kind: 'policy',
    mutate: (s) => delete s.issuers[2].jwks.keys[0].y,
    field: 'spec.issuers[2].jwks.keys[0]',
  },
  {
    name: 'the HS256 algorithm',
    kind: 'policy',
    mutate: (s) => (issuer0(s).algorithms = ['RS256', 'HS256']),
    field: 'spec.issuers[0].algorithms[1]',
  },
  {
    name: 'the none algorithm',
    kind: 'policy',
    mutate: (s) => (issuer0(s).algorithms = ['none']),
    field: 'spec.issuers[0].algorithms[0]',
  },
  // --- expiry and reuse
  {
    name: 'a clock skew above 300 s',
    kind: 'policy',
    mutate: (s) => (s.expiry.clockSkewSeconds = 301),
    field: 'spec.expiry.clockSkewSeconds',
  },
  {
    name: 'a negative clock skew',
    kind: 'policy',
    mutate: (s) => (s.expiry.clockSkewSeconds = -1),
    field: 'spec.expiry.clockSkewSeconds',
  },
  {
    name: 'a zero maxTokenAgeSeconds',
    kind: 'policy',
    mutate: (s) => (s.expiry.maxTokenAgeSeconds = 0),
    field: 'spec.expiry.maxTokenAgeSeconds',
  },
  {
    name: 'a negative maxLifetimeSeconds',
    kind: 'policy',
    mutate: (s) => (s.expiry.maxLifetimeSeconds = -60),
    field: 'spec.expiry.maxLifetimeSeconds',
  },
  {
    name: 'a negative maxUses',
    kind: 'policy',
    mutate: (s) => (s.reuse.maxUses = -1),
    field: 'spec.reuse.maxUses',
  },
  // --- rules
  {
    name: 'a rule path without a leading slash',
    kind: 'policy',
    mutate: (s) => (s.rules[0].paths = ['healthz']),
    field: 'spec.rules[0].paths[0]',
  },
  {
    name: 'a rule path with * in the middle',
    kind: 'policy',
    mutate: (s) => (s.rules[1].paths = ['/admin/*/users']),
    field: 'spec.rules[1].paths[0]',
  },
  {
    name: 'a rule path with * not after a slash',
    kind: 'policy',
    mutate: (s) => (s.rules[1].paths = ['/admin', '/admin*']),
    field: 'spec.rules[1].paths[1]',
  },
  {
    name: 'a lower-case method',
    kind: 'policy',
    mutate: (s) => (s.rules[0].methods = ['get']),
    field: 'spec.rules[0].methods[0]',
  },
  {
    name: 'a method outside the Gateway API set (ANY)',
    kind: 'policy',
    mutate: (s) => (s.rules[0].methods = ['GET', 'ANY']),
    field: 'spec.rules[0].methods[1]',
  },
  {
    name: 'an expectedTypes entry that is not a media type',
    kind: 'policy',
    mutate: (s) => (issuer0(s).expectedTypes = ['at jwt']),
    field: 'spec.issuers[0].expectedTypes[0]',
  },
  // --- request-handling options (ADR 0007)
  {
    name: 'a trusted proxy that is not a CIDR',
    kind: 'policy',
    mutate: (s) => (s.trustedProxies = ['proxy.example.com']),
    field: 'spec.trustedProxies[0]',
  },
  {
    name: 'a trusted proxy CIDR with host bits set',
    kind: 'policy',
    mutate: (s) => (s.trustedProxies = ['10.0.0.0/8', '10.1.2.3/8']),
    field: 'spec.trustedProxies[1]',
  },
  {
    name: 'matrixParameters outside its enum',
    kind: 'policy',
    mutate: (s) => (s.paths.matrixParameters = 'Allow'),
    field: 'spec.paths.matrixParameters',
  },
  {
    name: 'forwardToken as a string',
    kind: 'policy',
    mutate: (s) => (s.forwardToken = 'yes'),
    field: 'spec.forwardToken',
  },
  {
    name: 'an action outside the enum',
    kind: 'policy',
    mutate: (s) => (s.rules[0].action = 'Permit'),
    field: 'spec.rules[0].action',
  },
  {
    name: 'requiredScopes on an Allow rule',
    kind: 'policy',
    mutate: (s) => (s.rules[0].requiredScopes = ['read']),
    field: 'spec.rules[0].requiredScopes',
  },
  {
    name: 'requiredClaims on a Deny rule',
    kind: 'policy',
    mutate: (s) => (s.rules[2].requiredClaims = { role: 'admin' }),
    field: 'spec.rules[2].requiredClaims',
  },
  {
    name: 'two rules with the same name',
    kind: 'policy',
    mutate: (s) => (s.rules[1].name = 'health'),
    field: 'spec.rules[1]',
  },
  // --- forwardClaims
  {
    name: 'forwarding into Authorization',
    kind: 'policy',
    mutate: (s) => (s.forwardClaims[0].header = 'Authorization'),
    field: 'spec.forwardClaims[0].header',
  },
  {
    name: 'forwarding into transfer-encoding (any case)',
    kind: 'policy',
    mutate: (s) => (s.forwardClaims[0].header = 'transfer-Encoding'),
    field: 'spec.forwardClaims[0].header',
  },
  {
    name: 'forwarding into a hop-by-hop header',
    kind: 'policy',
    mutate: (s) => (s.forwardClaims[1].header = 'Keep-Alive'),
    field: 'spec.forwardClaims[1].header',
  },
  {
    name: 'a forwarded header name that is not an HTTP token',
    kind: 'policy',
    mutate: (s) => (s.forwardClaims[0].header = 'X-Auth Subject'),
    field: 'spec.forwardClaims[0].header',
  },
  {
    name: 'two forwarded headers differing only in case',
    kind: 'policy',
    mutate: (s) => (s.forwardClaims[1].header = 'x-auth-subject'),
    field: 'spec.forwardClaims',
  },
  // --- TokenRevocation
  {
    name: 'a revocation without entries',
    kind: 'revocation',
    mutate: (s) => (s.tokens = []),
    field: 'spec.tokens',
  },
  {
    name: 'a revocation without tokens',
    kind: 'revocation',
    mutate: (s) => delete s.tokens,
    field: 'spec.tokens',
  },
  {
    name: 'more than 1000 entries',
    kind: 'revocation',
    mutate: (s) => (s.tokens = Array.from({ length: 1001 }, (_, i) => ({ jti: `j${i}` }))),
    field: 'spec.tokens',
  },
  {
    name: 'an entry with two matchers',
    kind: 'revocation',
    mutate: (s) => (s.tokens[0].subject = 'user-1'),
    field: 'spec.tokens[0]',
  },
  {
    name: 'an entry without a matcher',
    kind: 'revocation',
    mutate: (s) => (s.tokens[3] = { issuer: 'https://auth.example.com/' }),
    field: 'spec.tokens[3]',
  },
  {
    name: 'an issuer on a jti entry',
    kind: 'revocation',
    mutate: (s) => (s.tokens[0].issuer = 'https://auth.example.com/'),
    field: 'spec.tokens[0].issuer',
  },
  {
    name: 'issuedBefore on a tokenSha256 entry',
    kind: 'revocation',
    mutate: (s) => (s.tokens[1].issuedBefore = '2026-11-29T10:00:00Z'),
    field: 'spec.tokens[1].issuedBefore',
  },
  {
    name: 'an upper-case tokenSha256',
    kind: 'revocation',
    mutate: (s) => (s.tokens[1].tokenSha256 = (s.tokens[1].tokenSha256 as string).toUpperCase()),
    field: 'spec.tokens[1].tokenSha256',
  },
  {
    name: 'a tokenSha256 of the wrong length',
    kind: 'revocation',
    mutate: (s) => (s.tokens[1].tokenSha256 = 'abc123'),
    field: 'spec.tokens[1].tokenSha256',
  },
  {
    name: 'an expiresAt that is not RFC 3339',
    kind: 'revocation',
    mutate: (s) => (s.expiresAt = 'next tuesday'),
    field: 'spec.expiresAt',
  },
  {
    name: 'an issuedBefore that is not RFC 3339',
    kind: 'revocation',
    mutate: (s) => (s.tokens[2].issuedBefore = '29/11/2026'),
    field: 'spec.tokens[2].issuedBefore',
  },
  {
    name: 'a reason over 1024 characters',
    kind: 'revocation',
    mutate: (s) => (s.reason = 'x'.repeat(1025)),
    field: 'spec.reason',
  },
  {
    name: 'a policyName that is not an object name',
    kind: 'revocation',
    mutate: (s) => (s.policyName = 'Orders API'),
    field: 'spec.policyName',
  },
];

interface Refusal {
  code: number;
  message: string;
  fields: string[];
}

async function refusal(p: Promise<unknown>): Promise<Refusal> {
  try {
    await p;
  } catch (err) {
    if (!(err instanceof ApiException)) throw err;
    const body = (typeof err.body === 'string' ? JSON.parse(err.body) : err.body) as {
      message?: string;
      details?: { causes?: { field?: string }[] };
    };
    return {
      code: err.code,
      message: body.message ?? '',
      fields: (body.details?.causes ?? []).map((c) => c.field ?? ''),
    };
  }
  throw new Error('expected the API server to refuse the object, but it was accepted');
}

/** GET with `Accept: as=Table`, so the server renders the CRD's printer columns as kubectl would. */
async function getTable(kc: KubeConfig, path: string): Promise<{ columns: string[]; rows: unknown[][] }> {
  const res = await kubeRequest(kc, { path, accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' });
  expect(res.status, res.body).toBe(200);
  const table = res.json<{ columnDefinitions: { name: string }[]; rows: { cells: unknown[] }[] }>();
  return { columns: table.columnDefinitions.map((c) => c.name), rows: table.rows.map((r) => r.cells) };
}

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

describe('TokenPolicy and TokenRevocation CRDs', () => {
  let kc: KubeConfig;
  let api: CustomObjectsApi;

  beforeAll(() => {
    kc = loadKubeConfig();
    api = kc.makeApiClient(CustomObjectsApi);
  });

  const create = (namespace: string, plural: string, body: Obj): Promise<Obj> =>
    api.createNamespacedCustomObject({ group, version, namespace, plural, body }) as Promise<Obj>;

  describe('accepts', () => {
    it('a full TokenPolicy and fills in the defaults', async () => {
      const ns = await freshNamespace(kc, 'crd-good');
      const policy = goodPolicy();
      delete policy.spec.mode;
      const stored = await create(ns, 'tokenpolicies', policy);
      expect(stored.spec.mode).toBe('Enforce');
      expect(stored.spec.rules[1].action).toBe('Authenticate');
      // Stored as sent, nothing pruned (an unknown field would have been dropped silently).
      const { mode: _mode, ...rest } = stored.spec as Obj;
      expect(rest.issuers).toEqual(policy.spec.issuers);
      expect(rest.forwardClaims).toEqual(policy.spec.forwardClaims);
      expect(rest.expiry).toEqual(policy.spec.expiry);
    });

    it('a minimal TokenPolicy', async () => {
      const ns = await freshNamespace(kc, 'crd-good');
      const stored = await create(ns, 'tokenpolicies', {
        apiVersion: `${group}/${version}`,
        kind: 'TokenPolicy',
        metadata: { name: 'minimal' },
        spec: {
          selector: {},
          targetPort: 1,
          issuers: [{ issuer: 'https://a.example/', audiences: ['x'], discovery: true }],
        },
      });
      expect(stored.metadata.generation).toBe(1);
    });

    it('a TokenRevocation with jti, tokenSha256 and subject entries', async () => {
      const ns = await freshNamespace(kc, 'crd-good');
      const revocation = goodRevocation();
      const stored = await create(ns, 'tokenrevocations', revocation);
      expect(stored.spec).toEqual(revocation.spec);
    });

    it('the CRDs as written in crds/, nothing lost on the way', async () => {
      for (const crd of await readCrds()) {
        const res = await kubeRequest(kc, {
          path: `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata!.name!}`,
        });
        const served = res.json<{ spec: unknown }>();
        expect(served.spec).toMatchObject(crd.spec);
      }
    });

    it('the short names and the tokenwarden category', async () => {
      const ext = kc.makeApiClient(ApiextensionsV1Api);
      const tp = await ext.readCustomResourceDefinition({ name: 'tokenpolicies.tokenwarden.dev' });
      const trev = await ext.readCustomResourceDefinition({ name: 'tokenrevocations.tokenwarden.dev' });
      expect(tp.status?.acceptedNames?.shortNames).toEqual(['tp']);
      expect(trev.status?.acceptedNames?.shortNames).toEqual(['trev']);
      expect(tp.status?.acceptedNames?.categories).toEqual(['tokenwarden']);
      expect(trev.status?.acceptedNames?.categories).toEqual(['tokenwarden']);
    });
  });

  describe('refuses with 422 naming the field', () => {
    let ns: string;
    beforeAll(async () => {
      ns = await freshNamespace(kc, 'crd-bad');
    });

    it.each(badCases)('$name ($field)', async ({ kind, mutate, field }) => {
      const obj = kind === 'policy' ? goodPolicy('bad') : goodRevocation('bad');
      mutate(obj.spec);
      const refused = await refusal(
        create(ns, kind === 'policy' ? 'tokenpolicies' : 'tokenrevocations', obj),
      );
      expect(refused.code).toBe(422);
      expect(refused.message).toContain(field);
    });

    it('a method outside the Gateway API set says to omit methods for every method', async () => {
      const obj = goodPolicy('bad-method');
      obj.spec.rules[0].methods = ['ANY'];
      const refused = await refusal(create(ns, 'tokenpolicies', obj));
      expect(refused.code).toBe(422);
      expect(refused.message).toContain('omit methods to match every method');
    });

    it('every schema error of a manifest at once, each with its field', async () => {
      const obj = goodPolicy('bad-schema');
      delete obj.spec.targetPort;
      obj.spec.expiry.clockSkewSeconds = 301;
      obj.spec.issuers[0].jwksUri = 'http://example.com/jwks'; // a CEL error: not checked yet
      const refused = await refusal(create(ns, 'tokenpolicies', obj));
      expect(refused.code).toBe(422);
      expect(refused.fields).toEqual(
        // The method set became a CEL rule (its message says to omit methods), so a
        // lower-case method moved from this schema-error list to the CEL one below.
        expect.arrayContaining(['spec.targetPort', 'spec.expiry.clockSkewSeconds']),
      );
      // The API server runs the CEL rules only on an object that passed the OpenAPI schema, and says so.
      expect(refused.fields).not.toContain('spec.issuers[0].jwksUri');
      expect(refused.message).toContain('some validation rules were not checked');
    });

    it('every CEL error of a manifest at once, each with its field', async () => {
      const obj = goodPolicy('bad-cel');
      obj.spec.issuers[0].jwksUri = 'http://example.com/jwks';
      obj.spec.rules[0].requiredScopes = ['read'];
      obj.spec.forwardClaims[0].header = 'Cookie';
      obj.spec.issuers[2].jwks.keys[0].d = 'c2VjcmV0';
      obj.spec.rules[0].methods = ['get'];
      const refused = await refusal(create(ns, 'tokenpolicies', obj));
      expect(refused.code).toBe(422);
      expect(refused.fields).toEqual(
        expect.arrayContaining([
          'spec.rules[0].methods[0]',
          'spec.issuers[0].jwksUri',
          'spec.rules[0].requiredScopes',
          'spec.forwardClaims[0].header',
          'spec.issuers[2].jwks.keys[0].d',
        ]),
      );
    });
  });

  describe('printer columns and status subresource', () => {
    it('declares the printer columns', async () => {
      const ext = kc.makeApiClient(ApiextensionsV1Api);
      const columns = async (name: string): Promise<[string, string][]> => {
        const crd = await ext.readCustomResourceDefinition({ name });
        return (crd.spec.versions[0]?.additionalPrinterColumns ?? [])
          .filter((c) => !c.priority)
          .map((c) => [c.name, c.jsonPath]);
      };
      expect(await columns('tokenpolicies.tokenwarden.dev')).toEqual([
        ['Mode', '.spec.mode'],
        ['Ready', '.status.conditions[?(@.type=="Ready")].status'],
        ['Matched', '.status.matchedPods'],
        ['Synced', '.status.syncedSidecars'],
        ['Age', '.metadata.creationTimestamp'],
      ]);
      expect(await columns('tokenrevocations.tokenwarden.dev')).toEqual([
        ['Policy', '.spec.policyName'],
        ['Entries', '.status.entries'],
        ['Expires', '.spec.expiresAt'],
        ['Acked', '.status.acknowledgedSidecars'],
        ['Age', '.metadata.creationTimestamp'],
      ]);
    });

    it('a TokenPolicy status is written through /status only, without bumping the generation', async () => {
      const ns = await freshNamespace(kc, 'crd-status');
      const name = 'orders-api';
      const created = await create(ns, 'tokenpolicies', goodPolicy(name));
      const status = {
        observedGeneration: 1,
        conditions: [
          {
            type: 'Ready',
            status: 'True',
            reason: 'Compiled',
            message: 'policy compiled, 6 issuers',
            lastTransitionTime: '2026-01-01T00:00:00Z',
            observedGeneration: 1,
          },
        ],
        matchedPods: 4,
        syncedSidecars: 3,
        revocations: 2,
        unprotectedPods: 1,
      };
      const patched = (await api.patchNamespacedCustomObjectStatus(
        { group, version, namespace: ns, plural: 'tokenpolicies', name, body: { status } },
        mergePatch,
      )) as Obj;
      expect(patched.status).toEqual(status);
      expect(patched.metadata.generation).toBe(1);

      // Through the main resource, status is ignored and a spec change bumps the generation.
      const replaced = (await api.replaceNamespacedCustomObject({
        group,
        version,
        namespace: ns,
        plural: 'tokenpolicies',
        name,
        body: { ...patched, spec: { ...created.spec, mode: 'Audit' }, status: { matchedPods: 99 } },
      })) as Obj;
      expect(replaced.status).toEqual(status);
      expect(replaced.metadata.generation).toBe(2);

      const table = await getTable(kc, `/apis/${group}/${version}/namespaces/${ns}/tokenpolicies`);
      expect(table.columns).toEqual([
        'Name',
        'Mode',
        'Ready',
        'Matched',
        'Synced',
        'Unprotected',
        'Reason',
        'Port',
        'Age',
      ]);
      expect(table.rows[0]?.slice(0, 8)).toEqual([name, 'Audit', 'True', 4, 3, 1, 'Compiled', 8080]);

      const bad = await refusal(
        api.patchNamespacedCustomObjectStatus(
          {
            group,
            version,
            namespace: ns,
            plural: 'tokenpolicies',
            name,
            body: { status: { matchedPods: -1, conditions: [{ ...status.conditions[0], status: 'Maybe' }] } },
          },
          mergePatch,
        ),
      );
      expect(bad.code).toBe(422);
      expect(bad.message).toContain('status.matchedPods');
      expect(bad.message).toContain('status.conditions[0].status');
    });

    it('a TokenRevocation shows its entry count from status', async () => {
      const ns = await freshNamespace(kc, 'crd-status');
      await create(ns, 'tokenrevocations', goodRevocation('leaked'));
      await api.patchNamespacedCustomObjectStatus(
        {
          group,
          version,
          namespace: ns,
          plural: 'tokenrevocations',
          name: 'leaked',
          body: { status: { observedGeneration: 1, entries: 4 } },
        },
        mergePatch,
      );
      const table = await getTable(kc, `/apis/${group}/${version}/namespaces/${ns}/tokenrevocations`);
      expect(table.columns).toEqual([
        'Name',
        'Policy',
        'Entries',
        'Expires',
        'Acked',
        'Reason',
        'Propagation',
        'Age',
      ]);
      const row = table.rows[0] ?? [];
      expect([...row.slice(0, 4), row[5]]).toEqual([
        'leaked',
        'orders-api',
        4,
        '2026-12-01T00:00:00Z',
        'token printed in CI logs',
      ]);
    });
  });
});
