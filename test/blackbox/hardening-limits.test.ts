/**
 * The first security review re-run (ADR 0007): the real sidecar (dist/), raw sockets in front, the
 * recording app behind. This file: the limits and options (slow clients, forwardToken, trustedProxies, the reuse store's cap, the command line). Each block is one class of finding; each test would have failed before
 * the fix (the app would have received the request, or the refusal would have been invisible).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type Socket } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { raw, requestText, send } from './support/http.js';
import { metric } from './support/metrics.js';
import { issuerEntry, policyDoc } from './support/policy.js';
import { CLI, startSidecar, waitReady, type Sidecar } from './support/sidecar.js';
import { sleep, waitFor } from '../support/wait.js';
import { RULES, hardeningWorld } from './support/hardening.js';

const world = hardeningWorld('hardening-limits');

describe('point 1: slow clients cannot starve forwarded requests', () => {
  let slow: Sidecar;
  beforeAll(async () => {
    slow = await startSidecar({
      name: 'slow-clients',
      upstream: world.app.url,
      policyYaml: policyDoc(world.issuer, { rules: RULES, expiry: { maxLifetimeSeconds: 3600 } }),
    });
    await waitReady(slow);
  });

  it('300 slow bodies on an Allow path: valid requests keep p99 under 1 s, RSS stays bounded', async () => {
    const pid = slow.process.pid!;
    const rss = (): number =>
      Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) * 1024;
    const rssBefore = rss();
    const sockets: Socket[] = [];
    // 300 attackers from 30 loopback addresses (10 each: under the per-client cap), each
    // announcing a 1 MB body and sending one byte every 2 s.
    for (let i = 0; i < 300; i++) {
      const s = connect({ port: slow.proxyPort, host: '127.0.0.1', localAddress: `127.0.1.${1 + (i % 30)}` });
      s.on('error', () => undefined);
      s.write(requestText(['POST /public/upload HTTP/1.1', 'host: a', 'content-length: 1000000']));
      sockets.push(s);
    }
    const drip = setInterval(() => {
      for (const s of sockets) if (s.writable) s.write('x');
    }, 2_000);
    try {
      await sleep(1_000);
      const token = await world.issuer.token();
      const latencies: number[] = [];
      for (let i = 0; i < 60; i++) {
        const t0 = performance.now();
        const res = await send(slow.proxyUrl, `/orders/valid-${i}`, { token, timeoutMs: 10_000 });
        latencies.push(performance.now() - t0);
        expect(res.status).toBe(200);
        await sleep(100);
      }
      latencies.sort((a, b) => a - b);
      const p99 = latencies[Math.ceil(latencies.length * 0.99) - 1]!;
      expect(p99).toBeLessThan(1_000);
      // 300 sockets with small buffers: tens of MiB at most, never a body's worth each.
      expect(rss() - rssBefore).toBeLessThan(64 * 1024 * 1024);
    } finally {
      clearInterval(drip);
      for (const s of sockets) s.destroy();
    }
  }, 60_000);

  it('a slow body is ended by the minimum-rate timeout with 408, counted', async () => {
    const before = await metric(slow.adminUrl, 'tokenwarden_requests_total', { reason: 'timeout' });
    const s = connect(slow.proxyPort, '127.0.0.1');
    let received = '';
    s.setEncoding('latin1');
    s.on('data', (d: string) => (received += d));
    s.on('error', () => undefined);
    s.write(requestText(['POST /public/slow-body HTTP/1.1', 'host: a', 'content-length: 100000']));
    const drip = setInterval(() => s.writable && s.write('x'), 1_000);
    try {
      await waitFor('a 408', () => received.startsWith('HTTP/1.1 408'), 25_000);
    } finally {
      clearInterval(drip);
      s.destroy();
    }
    expect(await metric(slow.adminUrl, 'tokenwarden_requests_total', { reason: 'timeout' })).toBeGreaterThan(
      before,
    );
  }, 40_000);

  it('connections over the per-client cap are answered 503 and counted', async () => {
    const capped = await startSidecar({
      name: 'capped',
      upstream: world.app.url,
      policyYaml: policyDoc(world.issuer, { rules: RULES }),
      args: ['--max-connections-per-client', '3'],
    });
    await waitReady(capped);
    const held = Array.from({ length: 3 }, () =>
      connect({ port: capped.proxyPort, host: '127.0.0.1', localAddress: '127.0.2.1' }),
    );
    held.forEach((s) => s.on('error', () => undefined));
    try {
      await sleep(200);
      const over = await new Promise<string>((resolve) => {
        const s = connect({ port: capped.proxyPort, host: '127.0.0.1', localAddress: '127.0.2.1' });
        let text = '';
        s.setEncoding('latin1');
        s.on('data', (d: string) => (text += d));
        s.on('close', () => resolve(text));
        s.on('error', () => resolve(text));
      });
      expect(over).toMatch(/^HTTP\/1\.1 503 /);
      // Another address is not affected.
      expect((await send(capped.proxyUrl, '/public/other')).status).toBe(200);
      expect(
        await metric(capped.adminUrl, 'tokenwarden_requests_total', { reason: 'connection_limit' }),
      ).toBeGreaterThan(0);
    } finally {
      held.forEach((s) => s.destroy());
    }
  });
});

describe('point 7 options and point 11: forwardToken, trustedProxies, underscores, Audit', () => {
  it('forwardToken keeps the verified token; a trusted proxy keeps X-Forwarded-For', async () => {
    const opts = await startSidecar({
      name: 'options',
      upstream: world.app.url,
      policyYaml: policyDoc(world.issuer, {
        rules: RULES,
        forwardClaims: [{ claim: 'sub', header: 'X-Auth-Subject' }],
        spec: {
          forwardToken: true,
          trustedProxies: ['127.0.0.0/8'],
          http: { allowUnderscoreHeaders: true },
          paths: { caseInsensitive: true, matrixParameters: 'Strip' },
        },
      }),
    });
    await waitReady(opts);
    const token = await world.issuer.token();
    const res = await send(opts.proxyUrl, '/orders/opt', {
      token,
      headers: { 'x-forwarded-for': '203.0.113.9', x_custom: 'kept', x_auth_subject: 'admin' },
    });
    expect(res.status).toBe(200);
    const got = world.app.receivedFor('/orders/opt')[0]!;
    expect(got.headers.authorization).toBe(`Bearer ${token}`);
    expect(got.headers['x-forwarded-for']).toBe('203.0.113.9, 127.0.0.1');
    expect(got.headers.x_custom).toBe('kept');
    expect(got.headers.x_auth_subject).toBeUndefined(); // aliases X-Auth-Subject: always stripped
    // caseInsensitive: /ADMIN/x is /admin/x to the rules; Strip: /admin;x/y is matched as /admin/y.
    expect((await send(opts.proxyUrl, '/ADMIN/x', { token })).status).toBe(403);
    const stripped = await raw(
      opts.proxyPort,
      requestText(['GET /public;jsessionid=1/s HTTP/1.1', 'host: a', 'connection: close']),
    );
    expect(stripped.status).toBe(200);
    expect(world.app.receivedFor('/public/s')).toHaveLength(1);
  });

  it('Audit mode still refuses protocol-level problems (unsafe paths, ambiguous framing)', async () => {
    const audit = await startSidecar({
      name: 'audit-protocol',
      upstream: world.app.url,
      policyYaml: policyDoc(world.issuer, { mode: 'Audit', rules: RULES }),
    });
    await waitReady(audit);
    const seen = world.app.received.length;
    const path = await raw(
      audit.proxyPort,
      requestText(['GET /admin;/x HTTP/1.1', 'host: a', 'connection: close']),
    );
    const host = await raw(
      audit.proxyPort,
      requestText(['GET /x HTTP/1.1', 'host: a', 'host: b', 'connection: close']),
    );
    expect([path.status, host.status]).toEqual([400, 400]);
    expect(world.app.received.length).toBe(seen);
  });
});

describe('point 9: the reuse store fails closed at its cap', () => {
  it('refuses a new jti when full, counts it and says so in the log', async () => {
    const small = await startSidecar({
      name: 'reuse-full',
      upstream: world.app.url,
      policyYaml: policyDoc(world.issuer, { maxUses: 1 }),
      args: ['--reuse-store-bytes', '1000'],
    });
    await waitReady(small);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      statuses.push((await send(small.proxyUrl, '/orders/r', { token: await world.issuer.token() })).status);
    }
    expect(statuses[0]).toBe(200);
    expect(statuses.at(-1)).toBe(401);
    expect(await metric(small.adminUrl, 'tokenwarden_reuse_store_full_total')).toBeGreaterThan(0);
    expect(await metric(small.adminUrl, 'tokenwarden_reuse_store_bytes')).toBeLessThanOrEqual(1000);
    await waitFor('the log line', () => small.logs().includes('reuse store full'), 2_000);
    // Its own reason, not a replay's: every refusal while full is counted as reuse_store_full.
    const refused = statuses.filter((s) => s === 401).length;
    expect(
      await metric(small.adminUrl, 'tokenwarden_requests_total', {
        decision: 'deny',
        reason: 'reuse_store_full',
      }),
    ).toBe(refused);
    expect(await metric(small.adminUrl, 'tokenwarden_requests_total', { reason: 'reused' })).toBe(0);
    expect(await metric(small.adminUrl, 'tokenwarden_token_reuse_total')).toBe(0);
    expect(small.logs()).toContain('"reason":"reuse_store_full"');
  });
});

describe('point 8 and 10 through the command line and the sidecar', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tokenwarden-hardening-'));
  /** Async, so the issuer in this process can answer the JWKS fetch of `check`. */
  const check = (yaml: string, token: string): Promise<{ status: number | null; stderr: string }> => {
    const file = join(dir, `p-${Math.random().toString(16).slice(2)}.yaml`);
    writeFileSync(file, yaml);
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [
        CLI,
        'check',
        '--policy',
        file,
        '--token',
        '-',
        '--path',
        '/orders',
      ]);
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.stdout.resume();
      child.on('close', (status) => resolve({ status, stderr }));
      child.stdin.end(token);
    });
  };

  it('a policy with methods: [ANY] is refused, and the message says to omit methods', async () => {
    const yaml = policyDoc(world.issuer, {
      rules: [{ name: 'any', paths: ['/x'], methods: ['ANY'], action: 'Deny' }],
    });
    const run = await check(yaml, await world.issuer.token());
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('spec.rules[0].methods[0]');
    expect(run.stderr).toContain('leave methods out to match every method');
  });

  it('check warns when no lifetime cap is set, and not when one is', async () => {
    const token = await world.issuer.token();
    expect((await check(policyDoc(world.issuer), token)).stderr).toContain('warning: NoLifetimeCap');
    expect(
      (await check(policyDoc(world.issuer, { expiry: { maxLifetimeSeconds: 3600 } }), token)).stderr,
    ).not.toContain('warning');
  });

  it('expectedTypes [at+jwt] refuses an ID token (typ id+jwt) with 401 and accepts at+jwt', async () => {
    const typed = await startSidecar({
      name: 'typed',
      upstream: world.app.url,
      policyYaml: policyDoc(world.issuer, {
        issuers: [{ ...issuerEntry(world.issuer), expectedTypes: ['at+jwt'] }],
      }),
    });
    await waitReady(typed);
    const idToken = await world.issuer.token({}, { header: { typ: 'id+jwt' } });
    const accessToken = await world.issuer.token({}, { header: { typ: 'at+jwt' } });
    expect((await send(typed.proxyUrl, '/orders/typ', { token: idToken })).status).toBe(401);
    expect((await send(typed.proxyUrl, '/orders/typ', { token: accessToken })).status).toBe(200);
    expect(
      await metric(typed.adminUrl, 'tokenwarden_requests_total', { decision: 'deny', reason: 'wrong_type' }),
    ).toBe(1);
  });
});
