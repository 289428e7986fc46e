import { describe, expect, it } from 'vitest';
import { MAX_POLICY_FILE_BYTES, parsePolicyDocuments } from '../../../src/policy/load.js';
import { fixture } from '../../support/manifests.js';

const POLICY = `apiVersion: tokenwarden.dev/v1alpha1
kind: TokenPolicy
metadata: { name: p }
spec:
  issuers:
    - { issuer: "https://i/", audiences: [a], discovery: true }
`;
const REVOCATION = (name: string, entry = '{ jti: j }', extra = '') => `apiVersion: tokenwarden.dev/v1alpha1
kind: TokenRevocation
metadata: { name: ${name} }
spec:
${extra}  tokens: [${entry}]
`;

const standalone = { standalone: true };

function errorsOf(text: string, opts = standalone) {
  const result = parsePolicyDocuments(text, opts);
  return result.ok ? [] : result.errors;
}

describe('parsePolicyDocuments accepts', () => {
  it.each([
    { name: 'full.yaml', file: 'full.yaml', standalone: false, revocations: ['leaked-ci-token'] },
    { name: 'minimal-standalone.yaml', file: 'minimal-standalone.yaml', standalone: true, revocations: [] },
    {
      name: 'inline-keys-audit.yaml, keeping a revocation for another policy',
      file: 'inline-keys-audit.yaml',
      standalone: false,
      revocations: ['offboarded-user', 'other-policy-only'],
    },
  ])('$name', ({ file, standalone: alone, revocations }) => {
    const result = parsePolicyDocuments(fixture(file), { standalone: alone });
    expect(result.ok ? [] : result.errors).toEqual([]);
    if (!result.ok) return;
    expect(result.value.policy.kind).toBe('TokenPolicy');
    expect(result.value.revocations.map((r) => r.metadata.name)).toEqual(revocations);
  });

  it('skips empty documents, leading and trailing', () => {
    const result = parsePolicyDocuments(`---\n${POLICY}---\n---\n`, standalone);
    expect(result.ok).toBe(true);
  });

  it('reads a revocation before the policy', () => {
    const result = parsePolicyDocuments(`${REVOCATION('r')}---\n${POLICY}`, standalone);
    expect(result.ok && result.value.revocations.length).toBe(1);
  });

  it('reads an unquoted time as a string (YAML 1.2 core schema)', () => {
    const text = `${POLICY}---\n${REVOCATION('r', '{ jti: j }', '  expiresAt: 2026-12-01T00:00:00Z\n')}`;
    const result = parsePolicyDocuments(text, standalone);
    expect(result.ok && result.value.revocations[0]?.spec.expiresAt).toBe('2026-12-01T00:00:00Z');
  });
});

describe('parsePolicyDocuments refuses', () => {
  it.each([
    {
      name: 'a bad field, prefixed with its document',
      text: `${POLICY}---\n${REVOCATION('r', '{ tokenSha256: ABC }')}`,
      fields: ['documents[1].spec.tokens[0].tokenSha256'],
    },
    {
      name: 'a file without a policy',
      text: REVOCATION('r'),
      fields: ['documents'],
      message: 'no TokenPolicy found',
    },
    { name: 'an empty file', text: '', fields: ['documents'] },
    {
      name: 'two policies',
      text: `${POLICY}---\n${POLICY}`,
      fields: ['documents[1]'],
      message: 'a second TokenPolicy (the first is documents[0])',
    },
    {
      name: 'a document of another kind',
      text: `${POLICY}---\napiVersion: v1\nkind: ConfigMap\n`,
      fields: ['documents[1].kind'],
      message: 'must be TokenPolicy or TokenRevocation, got "ConfigMap"',
    },
    {
      name: 'a document that is a list',
      text: `- a\n- b\n---\n${POLICY}`,
      fields: ['documents[0]'],
      message: 'got a list',
    },
    {
      name: 'a YAML syntax error, with its line',
      text: `${POLICY}---\nkind: TokenRevocation\nspec: { tokens: [\n`,
      // Both the sequence and the map are left open: two errors, at the line where the text ends.
      fields: ['documents[1]', 'documents[1]'],
      message: 'YAML syntax error at line 10, column 1',
    },
    {
      name: 'a duplicate key, which would silently override',
      text: POLICY.replace('metadata: { name: p }', 'metadata: { name: p }\nmetadata: { name: q }'),
      fields: ['documents[0]'],
      message: 'YAML syntax error at line 4',
    },
    {
      name: 'an alias bomb',
      text: `a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [${Array(20).fill('*a').join(',')}]\nc: [${Array(20).fill('*b').join(',')}]\n`,
      fields: ['documents[0]'],
      message: 'cannot read document',
    },
    {
      name: 'a standalone-only policy in the cluster',
      text: POLICY,
      fields: ['documents[0].spec.selector', 'documents[0].spec.targetPort'],
      cluster: true,
    },
  ])('$name', ({ text, fields, message, cluster }) => {
    const errors = errorsOf(text, { standalone: cluster !== true });
    expect(errors.map((e) => e.field)).toEqual(fields);
    if (message !== undefined) expect(errors[0]?.message).toContain(message);
  });

  it('reports the errors of every document together', () => {
    const text = `${REVOCATION('R')}---\n${POLICY.replace('name: p', 'name: P')}---\n${REVOCATION('r', '{}')}`;
    expect(errorsOf(text).map((e) => e.field)).toEqual([
      'documents[0].metadata.name',
      'documents[1].metadata.name',
      'documents[2].spec.tokens[0]',
    ]);
  });

  it('a file over the size limit, before parsing it', () => {
    const text = `# ${'x'.repeat(MAX_POLICY_FILE_BYTES)}\n${POLICY}`;
    expect(errorsOf(text)).toEqual([
      { field: 'documents', message: `larger than ${MAX_POLICY_FILE_BYTES} bytes` },
    ]);
  });
});
