/**
 * `npm run demo`: the standalone sidecar in front of a sample app, end to end on 127.0.0.1.
 *
 * Starts a sample app, a local issuer serving a JWKS, and `tokenwarden sidecar` (the real
 * built binary, as a child process) in front of the app; then shows a valid token allowed, an
 * expired one refused, and a token revoked by editing the policy file and refused within a
 * second, each with the metrics line that counted it.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';

const here = dirname(fileURLToPath(import.meta.url));
const cli = join(here, '..', 'cmd', 'tokenwarden.js');
const bold = (s: string): string => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);

function listen(server: http.Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );
}

async function freePort(): Promise<number> {
  const s = http.createServer();
  const port = await listen(s);
  await new Promise((r) => s.close(r));
  return port;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tokenwarden-demo-'));
  const children: ReturnType<typeof spawn>[] = [];
  const servers: http.Server[] = [];
  const cleanup = (): void => {
    for (const c of children) c.kill('SIGTERM');
    for (const s of servers) s.close();
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('SIGINT', () => {
    cleanup();
    process.exit(130);
  });

  try {
    // 1. The sample app: echoes who the sidecar says the caller is.
    const app = http.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ app: 'orders', path: req.url, subject: req.headers['x-auth-subject'] ?? null }),
      );
    });
    servers.push(app);
    const appPort = await listen(app);

    // 2. A local issuer: an ES256 key pair, the public half served as a JWKS.
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'demo-1', alg: 'ES256', use: 'sig' };
    const issuerServer = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    servers.push(issuerServer);
    const issuerPort = await listen(issuerServer);
    const issuer = `http://127.0.0.1:${issuerPort}/`;
    const sign = (claims: Record<string, unknown>, iat: number, exp: number): Promise<string> =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', kid: 'demo-1', typ: 'JWT' })
        .setIssuer(issuer)
        .setAudience('orders-api')
        .setIssuedAt(iat)
        .setExpirationTime(exp)
        .setJti(randomUUID())
        .sign(privateKey);

    // 3. The policy file, and the sidecar in front of the app.
    const policyFile = join(dir, 'policy.yaml');
    writeFileSync(
      policyFile,
      `apiVersion: tokenwarden.dev/v1alpha1
kind: TokenPolicy
metadata: { name: orders-api }
spec:
  mode: Enforce
  issuers:
    - issuer: ${issuer}
      audiences: [orders-api]
      jwksUri: ${issuer}jwks.json
      algorithms: [ES256]
  expiry: { clockSkewSeconds: 5, maxLifetimeSeconds: 86400 }
  rules:
    - { name: health, paths: [/healthz], action: Allow }
  forwardClaims:
    - { claim: sub, header: X-Auth-Subject }
`,
    );
    const [proxyPort, adminPort] = [await freePort(), await freePort()];
    const sidecar = spawn(
      process.execPath,
      [
        cli,
        'sidecar',
        '--policy',
        policyFile,
        '--upstream',
        `http://127.0.0.1:${appPort}`,
        '--listen',
        `127.0.0.1:${proxyPort}`,
        '--admin-listen',
        `127.0.0.1:${adminPort}`,
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    children.push(sidecar);
    await waitReady(`http://127.0.0.1:${adminPort}/readyz`);
    console.log(bold(`sidecar :${proxyPort} → app :${appPort}; issuer ${issuer}; policy ${policyFile}\n`));

    const now = Math.floor(Date.now() / 1000);
    const valid = await sign({ sub: 'alice' }, now, now + 600);
    const expired = await sign({ sub: 'bob' }, now - 7200, now - 3600);
    const call = async (label: string, token: string | undefined, path = '/orders/42'): Promise<number> => {
      const res = await fetch(`http://127.0.0.1:${proxyPort}${path}`, {
        headers: token ? { authorization: `Bearer ${token}` } : {},
      });
      const body = await res.text();
      const challenge = res.headers.get('www-authenticate');
      console.log(
        `${bold(label)}\n  → ${res.status} ${body}${challenge ? `\n  WWW-Authenticate: ${challenge}` : ''}`,
      );
      return res.status;
    };
    const metric = async (reason: string): Promise<void> => {
      const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
      const line = text
        .split('\n')
        .find((l) => l.startsWith('tokenwarden_requests_total{') && l.includes(`reason="${reason}"`));
      console.log(`  metrics: ${line ?? '(none)'}\n`);
    };

    await call('1. valid token (sub=alice)', valid);
    await metric('ok');
    await call('2. expired token (sub=bob, expired an hour ago)', expired);
    await metric('expired');

    // 4. Revoke alice's token by appending a TokenRevocation to the policy file.
    const jti = JSON.parse(Buffer.from(valid.split('.')[1]!, 'base64url').toString()).jti as string;
    const edited = Date.now();
    appendFileSync(
      policyFile,
      `---\napiVersion: tokenwarden.dev/v1alpha1\nkind: TokenRevocation\nmetadata: { name: alice-laptop-stolen }\nspec:\n  reason: laptop stolen\n  tokens: [ { jti: ${jti} } ]\n`,
    );
    console.log(bold(`3. appended a TokenRevocation for jti ${jti} to the policy file`));
    let status = 200;
    while (status === 200 && Date.now() - edited < 5000) {
      const res = await fetch(`http://127.0.0.1:${proxyPort}/orders/42`, {
        headers: { authorization: `Bearer ${valid}` },
      });
      await res.arrayBuffer();
      status = res.status;
      if (status === 200) await new Promise((r) => setTimeout(r, 20));
    }
    console.log(`  refused ${Date.now() - edited} ms after the edit`);
    await call('4. the same valid token again, now revoked', valid);
    await metric('revoked');
    await call('5. no token at all', undefined);
    await call('6. public health path, no token needed (rule "health": Allow)', undefined, '/healthz');
    await metric('public');
    if (status === 200) throw new Error('the revocation did not take effect within 5 s');
  } finally {
    cleanup();
  }
}

async function waitReady(url: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`sidecar not ready after 15 s (${url})`);
}

main().catch((err: unknown) => {
  console.error(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
