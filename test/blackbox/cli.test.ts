/**
 * The command line as a user runs it: `tokenwarden check` explaining a decision (exit codes,
 * every reason, the token read from stdin), and `tokenwarden sidecar` draining on SIGTERM.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fingerprint } from './support/forge.js';
import { send } from './support/http.js';
import { logFile, tokenLeaks } from './support/ledger.js';
import { policyDoc, policyFile, revocationDoc } from './support/policy.js';
import { CLI, assertBuilt, startSidecar, stopAllSidecars, waitReady } from './support/sidecar.js';
import { sleep, waitFor } from '../support/wait.js';
import { useWorld } from './support/world.js';

let dir: string;
let goodPolicy: string;

beforeAll(() => assertBuilt());
const world = useWorld();

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tokenwarden-bb-cli-'));
  goodPolicy = join(dir, 'policy.yaml');
  writeFileSync(
    goodPolicy,
    policyFile(
      policyDoc(world.issuer, {
        rules: [
          { name: 'health', paths: ['/healthz'], action: 'Allow' },
          { name: 'admin', paths: ['/admin/*'], action: 'Authenticate', requiredScopes: ['orders:admin'] },
        ],
      }),
      revocationDoc('cli-revocation', [{ subject: 'user-revoked-cli' }]),
    ),
  );
});

// Runs before the world's own clean-up: the sidecars read their policies from dir.
afterAll(async () => {
  await stopAllSidecars();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to completion (bounded), output captured and kept in the ledger. */
function cli(args: string[], stdin?: string, timeoutMs = 30_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const ledger = logFile(
      `cli-${args[0] ?? 'none'}-${Date.now()}-${Math.random().toString(16).slice(2, 6)}`,
    );
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      stdout += s;
      appendFileSync(ledger, s);
    });
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      stderr += s;
      appendFileSync(ledger, s);
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tokenwarden ${args.join(' ')} did not finish in ${timeoutMs} ms`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(stdin ?? '');
  });
}

describe('tokenwarden check', () => {
  it('a token the policy accepts exits 0 and prints "decision: ALLOW", never the token', async () => {
    const token = await world.issuer.token({ sub: 'user-cli', scope: 'orders:admin' });
    const run = await cli([
      'check',
      '--policy',
      goodPolicy,
      '--token',
      token,
      '--path',
      '/admin/users',
      '--method',
      'get',
    ]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('decision: ALLOW');
    expect(run.stdout).toContain('reasons:  none: every check passed');
    expect(run.stdout).toContain(`fingerprint ${fingerprint(token)}`);
    expect(run.stdout).not.toContain(token);
    expect(run.stdout).not.toContain(token.split('.')[2]!);
  });

  it('an expired token for the wrong audience exits 1 and prints both reasons', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await world.issuer.token({ aud: 'billing-api', iat: now - 7200, exp: now - 3600 });
    const run = await cli(['check', '--policy', goodPolicy, '--token', token, '--path', '/orders/1']);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('decision: DENY');
    expect(run.stdout).toMatch(/^ {2}- wrong_audience: /m);
    expect(run.stdout).toMatch(/^ {2}- expired: /m);
  });

  it('a revoked token without the required scope exits 1 and lists revoked and insufficient_scope', async () => {
    const token = await world.issuer.token({ sub: 'user-revoked-cli' });
    const run = await cli(['check', '--policy', goodPolicy, '--token', token, '--path', '/admin/users']);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^ {2}- revoked: revoked by TokenRevocation cli-revocation$/m);
    expect(run.stdout).toMatch(/^ {2}- insufficient_scope: /m);
  });

  it('--token - reads the token from standard input', async () => {
    const token = await world.issuer.token({ sub: 'user-stdin' });
    const run = await cli(['check', '--policy', goodPolicy, '--token', '-'], `${token}\n`);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('decision: ALLOW');
    expect(run.stdout).toContain('sub "user-stdin"');
  });

  it('an invalid policy file exits 2 and names the field on stderr', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, policyDoc(world.issuer, { expiry: { clockSkewSeconds: 301 } }));
    const run = await cli(['check', '--policy', bad, '--token', await world.issuer.token()]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('documents[0].spec.expiry.clockSkewSeconds');
    expect(run.stdout).toBe('');
  });

  it('a missing --token exits 2 with a one-line hint', async () => {
    const run = await cli(['check', '--policy', goodPolicy]);
    expect(run.code).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toContain('--token');
  });
});

describe('tokenwarden sidecar and SIGTERM', () => {
  it('SIGTERM lets a request in flight finish with 200, then the process exits 0 promptly', async () => {
    const sidecar = await startSidecar({
      name: 'cli-sigterm',
      upstream: world.app.url,
      policyYaml: policyDoc(world.issuer),
    });
    await waitReady(sidecar);
    const inFlight = send(sidecar.proxyUrl, '/slow?ms=1200', { token: await world.issuer.token() });
    await waitFor(
      'the app to receive the slow request',
      () => world.app.receivedFor('/slow').length > 0,
      5_000,
    );
    sidecar.process.kill('SIGTERM');
    const res = await inFlight;
    const answered = Date.now();
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({ url: '/slow?ms=1200' });
    const exit = await Promise.race([
      sidecar.exited,
      new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 15_000)),
    ]);
    const ms = Date.now() - answered;
    console.log(`exited ${ms} ms after the in-flight response was complete`);
    expect(exit).toEqual({ code: 0, signal: null });
    await sidecar.stop();
    await expect(send(sidecar.proxyUrl, '/orders/after-exit', { timeoutMs: 2_000 })).rejects.toThrow();
    // Draining is done once the last response is: the keep-alive connection it came on must
    // not hold the process for the 10 s force-close timer.
    expect(ms).toBeLessThan(3_000);
  });

  it('SIGTERM with only idle keep-alive connections exits 0 within a few seconds', async () => {
    const sidecar = await startSidecar({
      name: 'cli-sigterm-idle',
      upstream: world.app.url,
      policyYaml: policyDoc(world.issuer),
    });
    await waitReady(sidecar);
    expect((await send(sidecar.proxyUrl, '/orders/idle', { token: await world.issuer.token() })).status).toBe(
      200,
    );
    const signalled = Date.now();
    sidecar.process.kill('SIGTERM');
    const exit = await Promise.race([
      sidecar.exited,
      new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 15_000)),
    ]);
    console.log(`exited ${Date.now() - signalled} ms after SIGTERM (idle)`);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(Date.now() - signalled).toBeLessThan(5_000);
    await sidecar.stop();
  });

  it('no log line of any sidecar or CLI run so far holds a token or a signature sent so far', async () => {
    await sleep(200);
    expect(tokenLeaks().leaks).toEqual([]);
  });
});
