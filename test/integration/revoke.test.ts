/**
 * `tokenwarden revoke` end to end: the real CLI as a child process against the test API
 * server; the created object is read back. Its failures are one line that says what to do.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type KubeConfig } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { signedPartSha256 } from '../../src/token/hash.js';
import { freshNamespace, loadKubeConfig } from './harness/namespace.js';
import { CLI, REVOCATIONS, custom, writeKubeconfig, type Obj } from './operator-support.js';

// A real-looking compact JWS; its signature part must never reach the API server.
const TOKEN =
  'eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.eyJpc3MiOiJodHRwczovL2EuZXhhbXBsZS8iLCJzdWIiOiJ1c2VyLTQyIiwianRpIjoiajEifQ.' +
  'MEUCIQDx8hOHgTTJE9ZJmWx1vM3yGk4yQ2l6d1d5dF9mQ0FNX3Z5AiBVb1VfZ3JrRjVwc2lHbnFxZ3Z2UWpQbGZ3aG1lRzFyZVE';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function revoke(args: string[], kubeconfig = inject('kubeconfigPath')): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, 'revoke', `--kubeconfig=${kubeconfig}`, ...args],
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

let kc: KubeConfig;
let ns: string;

beforeAll(async () => {
  kc = loadKubeConfig();
  ns = await freshNamespace(kc, 'revoke');
});

async function read(name: string): Promise<Obj> {
  return (await custom(kc).getNamespacedCustomObject({ ...REVOCATIONS, namespace: ns, name })) as Obj;
}

describe('tokenwarden revoke', () => {
  it('stores the hash of the signed part of a --token, never the token, and prints the name', async () => {
    const r = await revoke([
      '--namespace',
      ns,
      '--token',
      TOKEN,
      '--policy',
      'orders',
      '--reason',
      'printed in CI logs',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const name = r.stdout.trim();
    expect(name).toMatch(/^revoke-[a-z0-9]{5}$/);
    const obj = await read(name);
    expect(obj.spec).toEqual({
      policyName: 'orders',
      reason: 'printed in CI logs',
      tokens: [{ tokenSha256: signedPartSha256(TOKEN) }],
    });
    const stored = JSON.stringify(obj);
    expect(stored).not.toContain(TOKEN);
    expect(stored).not.toContain(TOKEN.split('.')[2]);
    expect(stored).not.toContain(TOKEN.split('.')[1]);
  });

  it('revokes by jti, and by subject narrowed by issuer and issue time, with an expiry', async () => {
    const byJti = await revoke(['--namespace', ns, '--jti', 'j-123']);
    expect(byJti.code).toBe(0);
    expect((await read(byJti.stdout.trim())).spec.tokens).toEqual([{ jti: 'j-123' }]);

    const bySubject = await revoke([
      '--namespace',
      ns,
      '--subject',
      'user-42',
      '--issuer',
      'https://a.example/',
      '--issued-before',
      '2026-11-29T10:00:00Z',
      '--expires-at',
      '2099-01-01T00:00:00Z',
    ]);
    expect(bySubject.code).toBe(0);
    const obj = await read(bySubject.stdout.trim());
    expect(obj.spec).toEqual({
      expiresAt: '2099-01-01T00:00:00Z',
      tokens: [{ subject: 'user-42', issuer: 'https://a.example/', issuedBefore: '2026-11-29T10:00:00Z' }],
    });
  });

  it.each([
    { name: 'no --namespace', args: ['--jti', 'a'], want: '--namespace is required' },
    {
      name: 'two matchers',
      args: ['--namespace', 'x', '--jti', 'a', '--subject', 's'],
      want: 'exactly one of',
    },
    {
      name: '--issuer without --subject',
      args: ['--namespace', 'x', '--jti', 'a', '--issuer', 'i'],
      want: 'add --subject',
    },
    {
      name: 'a bad time',
      args: ['--namespace', 'x', '--jti', 'a', '--expires-at', 'tomorrow'],
      want: 'RFC 3339',
    },
    {
      name: 'an unknown flag',
      args: ['--namespace', 'x', '--jit', 'a'],
      want: "run 'tokenwarden revoke --help'",
    },
  ])('exits 2 on a usage error: $name', async ({ args, want }) => {
    const r = await revoke(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(want);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('says the namespace does not exist (404)', async () => {
    const r = await revoke(['--namespace', 'no-such-namespace-here', '--jti', 'a']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(
      'tokenwarden revoke: namespace no-such-namespace-here does not exist: check --namespace (kubectl get namespaces)',
    );
  });

  it('says which RBAC permission is missing (403)', async () => {
    const nobody = writeKubeconfig(kc, 'someone-without-rbac');
    const r = await revoke(['--namespace', ns, '--jti', 'a'], nobody);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(
      `tokenwarden revoke: you may not create tokenrevocations in namespace ${ns}: ask for RBAC \`create\` on tokenrevocations.tokenwarden.dev`,
    );
  });

  it('says the cluster cannot be reached', async () => {
    const cfg: Obj = JSON.parse(kc.exportConfig());
    for (const c of cfg.clusters) c.cluster.server = 'https://127.0.0.1:1';
    const path = join(mkdtempSync(join(tmpdir(), 'tw-unreachable-')), 'kubeconfig');
    writeFileSync(path, JSON.stringify(cfg));
    const r = await revoke(['--namespace', ns, '--jti', 'a'], path);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'tokenwarden revoke: cannot reach the cluster at https://127.0.0.1:1: ECONNREFUSED',
    );
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});
