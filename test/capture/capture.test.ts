/**
 * The real capture rules in real network namespaces: `tokenwarden capture` (from dist/) installs
 * them in a "pod" namespace where an app listens on the target port and the real sidecar runs
 * as UID 15080; a client in a second namespace dials podIP:targetPort over a veth pair.
 *
 * Needs root, iproute2 and iptables (.ci/run installs them; CI runs as root). Elsewhere the
 * suite is skipped with the reason printed; with CI=true it fails instead of skipping.
 */
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_V4, POD_V4, POD_V6, sh, startIn } from './netns.js';
import { APP_PORT, CLI, NODE, SIDECAR_UID, skipReason, useCaptureWorld } from './world.js';

const ISSUER = 'urn:tokenwarden:capture-test';
const AUDIENCE = 'capture-test';

/** The app: answers 200 `app` and records every request it receives (one JSON line each). */
const APP_JS = `
const http = require('node:http');
const fs = require('node:fs');
const log = process.argv[1];
http.createServer((req, res) => {
  fs.appendFileSync(log, JSON.stringify({ url: req.url, remote: req.socket.remoteAddress }) + '\\n');
  res.writeHead(200, { 'content-type': 'text/plain' }).end('app');
}).listen(${APP_PORT}, '::', () => console.log('ready'));
`;

/** One HTTP request; prints {status, www, body} or {error}. The token comes in env TOKEN. */
const CLIENT_JS = `
const http = require('node:http');
const headers = process.env.TOKEN ? { authorization: 'Bearer ' + process.env.TOKEN } : {};
const req = http.get(process.argv[1], { headers, timeout: 3000 }, (res) => {
  let body = '';
  res.setEncoding('utf8').on('data', (d) => (body += d)).on('end', () =>
    console.log(JSON.stringify({ status: res.statusCode, www: res.headers['www-authenticate'], body })));
});
req.on('timeout', () => req.destroy(new Error('timeout')));
req.on('error', (e) => console.log(JSON.stringify({ error: e.code || e.message })));
`;

interface Answer {
  status?: number;
  www?: string;
  body?: string;
  error?: string;
}

const reason = await skipReason();

describe.skipIf(reason !== undefined)('traffic capture in network namespaces', () => {
  const world = useCaptureWorld('tokenwarden-capture-');
  let key: CryptoKey;
  let stopSidecar: () => Promise<void>;
  let sidecarOutput: () => string;

  const token = (claims: Record<string, unknown> = {}): Promise<string> => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ sub: 'capture-user', jti: crypto.randomUUID(), ...claims })
      .setProtectedHeader({ alg: 'ES256', kid: 'capture-1' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt(typeof claims.iat === 'number' ? claims.iat : now)
      .setExpirationTime(typeof claims.exp === 'number' ? claims.exp : now + 600)
      .sign(key);
  };

  /** A request from a namespace, optionally as another UID (setpriv), with an optional token. */
  async function request(
    from: string,
    url: string,
    opts: { token?: string; uid?: string } = {},
  ): Promise<Answer> {
    const asUid = opts.uid
      ? ['setpriv', `--reuid=${opts.uid}`, `--regid=${opts.uid}`, '--clear-groups', '--']
      : [];
    const { stdout } = await sh('ip', ['netns', 'exec', from, ...asUid, NODE, '-e', CLIENT_JS, url], {
      env: { PATH: process.env.PATH, ...(opts.token ? { TOKEN: opts.token } : {}) },
    });
    return JSON.parse(stdout.trim()) as Answer;
  }

  const appRequests = (): { url: string; remote: string }[] =>
    readFileSync(world.appLog, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { url: string; remote: string });

  const capture = (...extra: string[]) =>
    sh('ip', [
      'netns',
      'exec',
      world.ns.pod,
      NODE,
      CLI,
      'capture',
      '--target-port',
      String(APP_PORT),
      '--proxy-port',
      '15080',
      '--proxy-uid',
      SIDECAR_UID,
      ...extra,
    ]);

  const natRules = async (bin: string): Promise<string[]> =>
    (await sh('ip', ['netns', 'exec', world.ns.pod, bin, '-t', 'nat'])).stdout
      .split('\n')
      .filter((l) => l.startsWith('-A '));

  beforeAll(async () => {
    const pair = await generateKeyPair('ES256');
    key = pair.privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'capture-1', alg: 'ES256', use: 'sig' };
    const policy = join(world.dir, 'policy.yaml');
    writeFileSync(
      policy,
      [
        'apiVersion: tokenwarden.dev/v1alpha1',
        'kind: TokenPolicy',
        'metadata: { name: capture }',
        'spec:',
        '  issuers:',
        `    - issuer: ${ISSUER}`,
        `      audiences: [${AUDIENCE}]`,
        `      jwks: { keys: [${JSON.stringify(jwk)}] }`,
        '',
      ].join('\n'),
    );
    chmodSync(policy, 0o644);

    const app = await startIn(world.ns.pod, [NODE, '-e', APP_JS, world.appLog], { readyLine: /ready/ });
    world.stops.push(app.stop);

    // Before capture the app port answers directly: what the rules must take away.
    const direct = await request(world.ns.client, `http://${POD_V4}:${APP_PORT}/before`);
    expect(direct).toMatchObject({ status: 200, body: 'app' });
    expect(appRequests().map((r) => r.url)).toEqual(['/before']);
    writeFileSync(world.appLog, '');

    const captured = await capture();
    expect(captured.stderr).toContain('capture applied');

    const sidecar = await startIn(
      world.ns.pod,
      [
        'setpriv',
        `--reuid=${SIDECAR_UID}`,
        `--regid=${SIDECAR_UID}`,
        '--clear-groups',
        '--',
        NODE,
        CLI,
        'sidecar',
        '--policy',
        policy,
        '--upstream',
        `http://127.0.0.1:${APP_PORT}`,
        '--listen',
        world.ns.ipv6 ? '[::]:15080' : '0.0.0.0:15080',
        '--admin-listen',
        '0.0.0.0:15090',
      ],
      { env: { PATH: process.env.PATH }, readyLine: /sidecar started/ },
    );
    stopSidecar = sidecar.stop;
    sidecarOutput = sidecar.output;
    world.stops.push(sidecar.stop);
    // Ready once the policy is loaded (the admin port is not captured).
    for (let i = 0; i < 50; i++) {
      const ready = await request(world.ns.client, `http://${POD_V4}:15090/readyz`);
      if (ready.status === 200) break;
      await new Promise((r) => setTimeout(r, 200));
    }
  });

  it('a token-less request to podIP:targetPort gets the sidecar 401 and never reaches the app', async () => {
    const answer = await request(world.ns.client, `http://${POD_V4}:${APP_PORT}/orders`);
    expect(answer.status, sidecarOutput()).toBe(401);
    expect(answer.www).toMatch(/^Bearer/);
    expect(appRequests()).toEqual([]);
  });

  it('a valid token is forwarded: the sidecar reaches the app on loopback', async () => {
    const answer = await request(world.ns.client, `http://${POD_V4}:${APP_PORT}/orders/1`, {
      token: await token(),
    });
    expect(answer).toMatchObject({ status: 200, body: 'app' });
    const seen = appRequests().filter((r) => r.url === '/orders/1');
    expect(seen).toHaveLength(1);
    expect(seen[0]!.remote).toMatch(/127\.0\.0\.1$/); // from the sidecar, not from the client
    expect(seen[0]!.remote).not.toContain(CLIENT_V4);
  });

  it('an expired token gets 401 and does not reach the app', async () => {
    const now = Math.floor(Date.now() / 1000);
    const expired = await token({ iat: now - 600, exp: now - 60 });
    const answer = await request(world.ns.client, `http://${POD_V4}:${APP_PORT}/orders/expired`, {
      token: expired,
    });
    expect(answer.status).toBe(401);
    expect(appRequests().filter((r) => r.url === '/orders/expired')).toEqual([]);
  });

  it('a process in the pod dialing the pod IP is captured too (OUTPUT path)', async () => {
    const answer = await request(world.ns.pod, `http://${POD_V4}:${APP_PORT}/from-pod`, { uid: '1000' });
    expect(answer.status).toBe(401);
    expect(appRequests().filter((r) => r.url === '/from-pod')).toEqual([]);
  });

  it('the sidecar UID is exempt: it reaches the app even on the pod IP', async () => {
    const answer = await request(world.ns.pod, `http://${POD_V4}:${APP_PORT}/sidecar-uid`, {
      uid: SIDECAR_UID,
    });
    expect(answer).toMatchObject({ status: 200, body: 'app' });
  });

  it('IPv6: a token-less request is refused by the sidecar, a valid one reaches the app', async (ctx) => {
    if (!world.ns.ipv6) ctx.skip('ip6tables nat is not usable in a network namespace here');
    const url = `http://[${POD_V6}]:${APP_PORT}`;
    const refused = await request(world.ns.client, `${url}/v6-none`);
    expect(refused.status, sidecarOutput()).toBe(401);
    expect(refused.www).toMatch(/^Bearer/);
    const allowed = await request(world.ns.client, `${url}/v6-ok`, { token: await token() });
    expect(allowed).toMatchObject({ status: 200, body: 'app' });
    expect(appRequests().map((r) => r.url)).not.toContain('/v6-none');
    expect(appRequests().filter((r) => r.url === '/v6-ok')).toHaveLength(1);
  });

  it('running capture again leaves exactly the same rules (idempotent)', async () => {
    const v4 = await natRules('iptables-save');
    const v6 = world.ns.ipv6 ? await natRules('ip6tables-save') : [];
    await capture();
    expect(await natRules('iptables-save')).toEqual(v4);
    if (world.ns.ipv6) expect(await natRules('ip6tables-save')).toEqual(v6);
    expect(v4.filter((l) => l.includes('-j TOKENWARDEN_INBOUND'))).toHaveLength(1);
  });

  it('with the sidecar gone, the app port answers nothing directly', async () => {
    await stopSidecar();
    const before = appRequests().length;
    const answer = await request(world.ns.client, `http://${POD_V4}:${APP_PORT}/around`);
    expect(answer.error).toBe('ECONNREFUSED');
    if (world.ns.ipv6) {
      expect((await request(world.ns.client, `http://[${POD_V6}]:${APP_PORT}/around6`)).error).toBe(
        'ECONNREFUSED',
      );
    }
    expect(appRequests()).toHaveLength(before);
  });
});
