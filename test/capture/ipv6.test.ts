/**
 * IPv6 without a global address: a pod whose interfaces carry link-local IPv6 only still
 * answers on `fe80::…%eth0` to a neighbour when the app binds `::`. Capture must cover that
 * family or fail: an ip6tables that fails makes `tokenwarden capture` exit non-zero (unless the
 * platform passed --ipv6 off), and with the rules in place the app is reached over link-local
 * only through the sidecar listening on `[::]`.
 *
 * Needs root, iproute2 and iptables; skipped with the reason printed elsewhere (fails under CI).
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { linkLocal, sh, startIn } from './netns.js';
import { APP_PORT, CLI, NODE, SIDECAR_UID, skipReason, useCaptureWorld } from './world.js';

const APP_JS = `
const http = require('node:http');
const fs = require('node:fs');
http.createServer((req, res) => {
  fs.appendFileSync(process.argv[1], req.url + '\\n');
  res.writeHead(200).end('app');
}).listen(${APP_PORT}, '::', () => console.log('ready'));
`;

/**
 * One GET to host (a scoped link-local address works here, unlike in a URL), prints JSON. The
 * Host header names the service, as a client of a Service does: node:http would otherwise send
 * the literal with its zone (`[fe80::1%eth0]`), a Host the sidecar refuses (README, header forms).
 */
const CLIENT_JS = `
const http = require('node:http');
const [host, port, path] = process.argv.slice(1);
const req = http.get({ host, port: Number(port), path, timeout: 3000, headers: { host: 'app' } }, (res) => {
  let body = '';
  res.setEncoding('utf8').on('data', (d) => (body += d)).on('end', () =>
    console.log(JSON.stringify({ status: res.statusCode, body })));
});
req.on('timeout', () => req.destroy(new Error('timeout')));
req.on('error', (e) => console.log(JSON.stringify({ error: e.code || e.message })));
`;

const reason = await skipReason();

describe.skipIf(reason !== undefined)('IPv6 capture with link-local addresses only', () => {
  const world = useCaptureWorld('tokenwarden-capture6-', { tag: 'l', globalV6: false });
  let target: string;

  const get = async (path: string): Promise<{ status?: number; body?: string; error?: string }> => {
    const { stdout } = await sh('ip', [
      'netns',
      'exec',
      world.ns.client,
      NODE,
      '-e',
      CLIENT_JS,
      target,
      String(APP_PORT),
      path,
    ]);
    return JSON.parse(stdout.trim()) as { status?: number; error?: string };
  };
  const appSaw = (): string[] => readFileSync(world.appLog, 'utf8').split('\n').filter(Boolean);
  const capture = (env: NodeJS.ProcessEnv, ...extra: string[]) =>
    sh(
      'ip',
      ['netns', 'exec', world.ns.pod, NODE, CLI, 'capture', '--target-port', String(APP_PORT), ...extra],
      {
        env,
      },
    );

  beforeAll(async () => {
    if (!world.ns.ipv6) return;
    target = `${await linkLocal(world.ns.pod, world.ns.podDev)}%${world.ns.clientDev}`;
    world.stops.push(
      (await startIn(world.ns.pod, [NODE, '-e', APP_JS, world.appLog], { readyLine: /ready/ })).stop,
    );
  });

  it('before capture, the ::-bound app answers a neighbour on its link-local address', async (ctx) => {
    if (!world.ns.ipv6) ctx.skip('ip6tables nat is not usable in a network namespace here');
    expect(await get('/direct')).toMatchObject({ status: 200, body: 'app' });
    expect(appSaw()).toEqual(['/direct']);
    writeFileSync(world.appLog, '');
  });

  it('exits non-zero when ip6tables fails, though the pod has no global IPv6 address', async (ctx) => {
    if (!world.ns.ipv6) ctx.skip('ip6tables nat is not usable in a network namespace here');
    // ip6tables-*-restore that fail, first on PATH (a kernel without ip6table_nat fails the same way).
    const fake = join(world.dir, 'bin');
    mkdirSync(fake);
    for (const b of ['ip6tables-nft-restore', 'ip6tables-legacy-restore', 'ip6tables-restore']) {
      writeFileSync(join(fake, b), '#!/bin/sh\necho "ip6tables: table nat does not exist" >&2\nexit 1\n');
      chmodSync(join(fake, b), 0o755);
    }
    const env = { PATH: `${fake}:${process.env.PATH ?? ''}` };
    const failed = await capture(env).then(
      () => ({ code: 0, stderr: '' }),
      (err: { code?: number; stderr?: string }) => ({ code: err.code, stderr: err.stderr ?? '' }),
    );
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('capture failed');
    // The platform, not the pod, may turn IPv6 capture off: then the same failure is not asked for.
    const off = await capture(env, '--ipv6', 'off');
    expect(off.stderr).toContain('capture skipped');
  });

  it('with the rules applied, link-local clients reach the app only through the sidecar', async (ctx) => {
    if (!world.ns.ipv6) ctx.skip('ip6tables nat is not usable in a network namespace here');
    await capture({ PATH: process.env.PATH });
    const pair = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256' };
    const policy = join(world.dir, 'policy.yaml');
    writeFileSync(
      policy,
      'apiVersion: tokenwarden.dev/v1alpha1\nkind: TokenPolicy\nmetadata: { name: v6 }\nspec:\n' +
        `  issuers:\n    - issuer: urn:v6\n      audiences: [v6]\n      jwks: { keys: [${JSON.stringify(jwk)}] }\n`,
    );
    chmodSync(policy, 0o644);
    const asSidecar = ['setpriv', `--reuid=${SIDECAR_UID}`, `--regid=${SIDECAR_UID}`, '--clear-groups', '--'];
    const sidecar = await startIn(
      world.ns.pod,
      [
        ...asSidecar,
        NODE,
        CLI,
        'sidecar',
        '--policy',
        policy,
        '--upstream',
        `http://127.0.0.1:${APP_PORT}`,
        '--listen',
        '[::]:15080',
        '--admin-listen',
        '[::1]:15090',
      ],
      { env: { PATH: process.env.PATH }, readyLine: /sidecar started/ },
    );
    world.stops.push(sidecar.stop);
    let answer = await get('/captured');
    for (let i = 0; i < 50 && answer.status === 503; i++) {
      await new Promise((r) => setTimeout(r, 200)); // until the policy is loaded
      answer = await get('/captured');
    }
    expect(answer.status, sidecar.output()).toBe(401);
    await sidecar.stop();
    expect((await get('/around')).error).toBe('ECONNREFUSED');
    expect(appSaw()).toEqual([]);
  });
});
