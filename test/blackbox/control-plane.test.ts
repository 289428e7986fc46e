/**
 * In-cluster mode against the real process: `tokenwarden sidecar --control-plane URL` from
 * dist/, fed by a real HTTPS config stream (test/support/stream-server.ts, a protocol peer of
 * docs/contracts/in-cluster.md), in front of a real app, with real signed tokens. The stream
 * server stands in for the operator; the real operator's side is tested in test/integration.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { send } from './support/http.js';
import {
  jtiRevocation,
  pushedKeys,
  startStreamSidecar,
  statusThrough,
  streamPolicy,
  useStreamWorld,
} from './support/control-plane.js';
import { recordToken, tokenLeaks } from './support/ledger.js';
import { metric } from './support/metrics.js';
import { CLI, type Sidecar } from './support/sidecar.js';
import { sleep, until } from '../support/wait.js';

const BOUND_MS = 5_000;

const world = useStreamWorld('cp', (issuer) => ({
  policy: streamPolicy(issuer),
  keys: { [issuer.url]: { keys: pushedKeys(issuer) } },
  heartbeatMs: 1_000,
}));
let podToken: string;
const measured: string[] = [];
const sidecars: Sidecar[] = [];

function newPodToken(label: string): string {
  // Opaque to the sidecar: it only presents it. Recorded so a leak into any log fails the suite.
  const t = `pod-token-${label}-${Math.random().toString(36).slice(2)}-${'x'.repeat(40)}`;
  recordToken(t);
  world.server.allowToken(t);
  return t;
}

async function startInCluster(
  name: string,
  stateDir: string,
  env: Record<string, string> = {},
): Promise<Sidecar> {
  const s = await startStreamSidecar({
    name,
    server: world.server,
    upstream: world.app.url,
    tokenFile: world.tokenFile,
    stateDir,
    env,
  });
  sidecars.push(s);
  return s;
}

async function statusPage(s: Sidecar): Promise<Record<string, unknown>> {
  return (await (await fetch(`${s.adminUrl}/status`)).json()) as Record<string, unknown>;
}

beforeAll(() => {
  podToken = newPodToken('a');
  writeFileSync(world.tokenFile, `${podToken}\n`);
});

afterAll(() => {
  if (measured.length > 0) console.log(`[measured] ${measured.join('; ')}`);
});

describe('a sidecar fed by the control plane', () => {
  let sidecar: Sidecar;
  let stateDir: string;

  beforeAll(async () => {
    stateDir = join(world.dir, 'state-main');
    sidecar = await startInCluster('cp-main', stateDir);
  });

  it('enforces the policy it was streamed, with pushed keys and no request to the identity provider', async () => {
    const jwksBefore = world.issuer.jwksRequests();
    await until(
      'the sidecar to be ready',
      async () => (await fetch(`${sidecar.adminUrl}/readyz`)).status === 200,
    );
    expect(await statusThrough(sidecar)).toBe(401);
    expect(await statusThrough(sidecar, await world.issuer.token())).toBe(200);
    expect(await statusThrough(sidecar, await world.issuer.token({}, { kid: 'ec-1' }))).toBe(200);
    expect(await statusThrough(sidecar, await world.issuer.token({ aud: 'someone-else' }))).toBe(401);
    expect(world.issuer.jwksRequests()).toBe(jwksBefore);
    // The token presented is the pod's projected token, read from --token-file.
    expect(world.server.connects.at(-1)?.authorization).toBe(`Bearer ${podToken}`);
    await until('an ack of the current version', () =>
      world.server.acks.some((a) => a.version === world.server.version),
    );
    const page = await statusPage(sidecar);
    expect(page.source).toMatchObject({
      kind: 'control-plane',
      connected: true,
      version: world.server.version,
    });
    expect(page.pod).toEqual({ name: 'cp-main-pod', namespace: 'shop' });
    expect(await metric(sidecar.adminUrl, 'tokenwarden_control_plane_connected')).toBe(1);
    expect(await metric(sidecar.adminUrl, 'tokenwarden_config_staleness_seconds')).toBeLessThan(5);
  });

  it('refuses a token within the bound once a revocation delta arrives, and the ack names the new version', async () => {
    const token = await world.issuer.token({ jti: 'jti-revoked-1' });
    expect(await statusThrough(sidecar, token)).toBe(200);
    const at = Date.now();
    world.server.upsertRevocation(jtiRevocation('leak-1', 'jti-revoked-1'));
    const ms = await until(
      'the revocation to be enforced',
      async () => (await statusThrough(sidecar, token)) === 401,
      BOUND_MS,
      10,
    );
    measured.push(`revocation delta → 401 in ${Date.now() - at} ms (polled every 10 ms; waited ${ms} ms)`);
    const res = await send(sidecar.proxyUrl, '/orders', { token });
    expect(res.text).toContain('the token has been revoked');
    expect(await statusThrough(sidecar, await world.issuer.token())).toBe(200);
    await until('an ack of the new version', () =>
      world.server.acks.some((a) => a.version === world.server.version),
    );
  });

  it('lets the token through again once the revocation is removed', async () => {
    const token = await world.issuer.token({ jti: 'jti-revoked-1' });
    world.server.removeRevocation('leak-1');
    await until('the removal to be enforced', async () => (await statusThrough(sidecar, token)) === 200);
  });

  it('applies a policy edit (a Deny rule) streamed as a delta', async () => {
    const token = await world.issuer.token();
    expect(await statusThrough(sidecar, token, '/admin')).toBe(200);
    world.server.setPolicy(
      streamPolicy(world.issuer, { rules: [{ name: 'no-admin', paths: ['/admin'], action: 'Deny' }] }),
    );
    await until(
      'the Deny rule to apply',
      async () => (await statusThrough(sidecar, token, '/admin')) === 403,
    );
    expect(await statusThrough(sidecar, token, '/orders')).toBe(200);
  });

  it('asks the operator for a key refresh on an unknown kid, fails closed meanwhile, and accepts once keys are pushed', async () => {
    await world.issuer.addKey('rsa-2', 'RS256');
    world.issuer.publish('rsa-2');
    const token = await world.issuer.token({}, { kid: 'rsa-2' });
    const jwksBefore = world.issuer.jwksRequests();
    const res = await send(sidecar.proxyUrl, '/orders', { token });
    expect(res.status).toBe(401);
    expect(res.text).toContain('the token was signed by an unknown key');
    await until('a key refresh request', () => world.server.refreshRequests.some((r) => r.kid === 'rsa-2'));
    const request = world.server.refreshRequests.find((r) => r.kid === 'rsa-2');
    expect(request).toMatchObject({ issuer: world.issuer.url, kid: 'rsa-2' });
    // Rate-limited per issuer: a burst of unknown-kid requests asks at most about once a second.
    const t0 = Date.now();
    for (let i = 0; i < 20; i++) await send(sidecar.proxyUrl, '/orders', { token });
    const asked = world.server.refreshRequests.filter((r) => r.at >= t0).length;
    expect(asked).toBeLessThanOrEqual(Math.ceil((Date.now() - t0) / 1000) + 1);
    // The operator refetched (here: the test) and pushes the keys.
    world.server.setKeys(world.issuer.url, pushedKeys(world.issuer));
    await until('the new key to be accepted', async () => (await statusThrough(sidecar, token)) === 200);
    expect(world.issuer.jwksRequests()).toBe(jwksBefore);
  });

  it('keeps enforcing, revocations included, while the operator is gone; reconnects and applies what changed', async () => {
    const revoked = await world.issuer.token({ jti: 'jti-revoked-2' });
    world.server.upsertRevocation(jtiRevocation('leak-2', 'jti-revoked-2'));
    await until('leak-2 to be enforced', async () => (await statusThrough(sidecar, revoked)) === 401);
    const heldVersion = world.server.version;
    await until('the snapshot to be written', () => {
      try {
        return readFileSync(join(stateDir, 'snapshot.json'), 'utf8').includes(heldVersion);
      } catch {
        return false;
      }
    });
    const reconnectsBefore = await metric(sidecar.adminUrl, 'tokenwarden_control_plane_reconnects_total');
    const connectsBefore = world.server.connects.length;

    await world.server.kill();
    await until(
      'the sidecar to notice',
      async () => (await metric(sidecar.adminUrl, 'tokenwarden_control_plane_connected')) === 0,
    );
    expect(await statusThrough(sidecar, revoked)).toBe(401);
    expect(await statusThrough(sidecar, await world.issuer.token())).toBe(200);
    expect(await statusThrough(sidecar)).toBe(401);
    expect((await fetch(`${sidecar.adminUrl}/readyz`)).status).toBe(200);
    const page = await statusPage(sidecar);
    expect(page.source).toMatchObject({ kind: 'control-plane', connected: false, version: heldVersion });
    await sleep(1_500);
    expect(await metric(sidecar.adminUrl, 'tokenwarden_config_staleness_seconds')).toBeGreaterThan(1);
    expect(await metric(sidecar.adminUrl, 'tokenwarden_control_plane_reconnects_total')).toBeGreaterThan(
      reconnectsBefore,
    );

    // Changed while the operator was away: served as a delta from the version the sidecar holds.
    const later = await world.issuer.token({ jti: 'jti-revoked-3' });
    expect(await statusThrough(sidecar, later)).toBe(200);
    world.server.upsertRevocation(jtiRevocation('leak-3', 'jti-revoked-3'));
    await world.server.restart();
    const ms = await until(
      'the reconnect and the delta',
      async () => (await statusThrough(sidecar, later)) === 401,
      40_000,
    );
    measured.push(`operator back → revocation made meanwhile enforced in ${ms} ms (backoff)`);
    const reconnect = world.server.connects.slice(connectsBefore).find((c) => c.status === 200);
    expect(reconnect).toMatchObject({ version: heldVersion, sent: 'delta' });
    expect(await statusThrough(sidecar, revoked)).toBe(401);
    await until(
      'connected again',
      async () => (await metric(sidecar.adminUrl, 'tokenwarden_control_plane_connected')) === 1,
    );
  });

  it('re-reads the token file on every connect, and logs a refusal with its reason', async () => {
    const fresh = newPodToken('rotated');
    writeFileSync(world.tokenFile, fresh);
    world.server.refuse({ status: 403, reason: 'pod_not_found', message: 'pod shop/cp-main-pod is gone' });
    await world.server.kill();
    await world.server.restart();
    await until(
      'the refusal to be logged',
      () =>
        sidecar
          .records()
          .some((r) => r.msg === 'control plane refused the stream' && r.reason === 'pod_not_found'),
      40_000,
    );
    expect(world.server.connects.at(-1)?.authorization).toBe(`Bearer ${fresh}`);
    expect(await statusThrough(sidecar, await world.issuer.token())).toBe(200); // refused: still enforcing
    expect(
      await metric(sidecar.adminUrl, 'tokenwarden_control_plane_reconnects_total', { reason: 'refused' }),
    ).toBeGreaterThan(0);
    world.server.refuse(undefined);
    await until(
      'connected again',
      async () => (await metric(sidecar.adminUrl, 'tokenwarden_control_plane_connected')) === 1,
      40_000,
    );
  });

  it('restarted while the operator is down, serves from its snapshot', async () => {
    const revoked = await world.issuer.token({ jti: 'jti-revoked-2' });
    const version = world.server.version;
    await until('the snapshot to hold the current version', () =>
      readFileSync(join(stateDir, 'snapshot.json'), 'utf8').includes(version),
    );
    await sidecar.stop();
    await world.server.kill();
    const again = await startInCluster('cp-restarted', stateDir);
    expect((await fetch(`${again.adminUrl}/readyz`)).status).toBe(200);
    expect(await statusThrough(again, revoked)).toBe(401);
    expect(await statusThrough(again, await world.issuer.token())).toBe(200);
    expect(await statusThrough(again, await world.issuer.token({}, { kid: 'rsa-2' }))).toBe(200);
    expect(again.records().find((r) => r.msg === 'snapshot loaded')).toMatchObject({ version });
    expect(await statusPage(again)).toMatchObject({ source: { connected: false, version } });
    await again.stop();
    await world.server.restart();
  });
});

describe('a sidecar with nothing to enforce', () => {
  it('answers 503 on protected routes with no snapshot and no operator, and is not ready', async () => {
    await world.server.kill();
    try {
      const s = await startInCluster('cp-empty', join(world.dir, 'state-empty'));
      expect(await statusThrough(s, await world.issuer.token())).toBe(503);
      expect((await fetch(`${s.adminUrl}/readyz`)).status).toBe(503);
      expect(s.records().some((r) => r.msg === 'control plane unreachable')).toBe(true);
      await s.stop();
    } finally {
      await world.server.restart();
    }
  });

  it('refuses a truncated snapshot whole, with a log line, and answers 503', async () => {
    const stateDir = join(world.dir, 'state-truncated');
    const s1 = await startInCluster('cp-writer', stateDir);
    await until('the snapshot file', () => {
      try {
        return readFileSync(join(stateDir, 'snapshot.json'), 'utf8').length > 0;
      } catch {
        return false;
      }
    });
    await s1.stop();
    const text = readFileSync(join(stateDir, 'snapshot.json'), 'utf8');
    writeFileSync(join(stateDir, 'snapshot.json'), text.slice(0, Math.floor(text.length * 0.7)));
    await world.server.kill();
    try {
      const s2 = await startInCluster('cp-truncated', stateDir);
      const refused = s2.records().find((r) => r.msg?.toString().startsWith('snapshot refused'));
      expect(refused).toMatchObject({ level: 'error', err: expect.stringMatching(/truncated or corrupt/) });
      expect(await statusThrough(s2, await world.issuer.token())).toBe(503);
      expect((await fetch(`${s2.adminUrl}/readyz`)).status).toBe(503);
      await s2.stop();
    } finally {
      await world.server.restart();
    }
  });
});

describe('sidecar flags', () => {
  it('refuses --policy together with --control-plane', () => {
    const r = spawnSync(
      process.execPath,
      [
        CLI,
        'sidecar',
        '--policy',
        'p.yaml',
        '--control-plane',
        'https://x:1',
        '--upstream',
        'http://127.0.0.1:1',
      ],
      { encoding: 'utf8' },
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--policy and --control-plane are mutually exclusive');
  });
});

describe('logs', () => {
  it('never hold a pod token or a bearer token', () => {
    expect(tokenLeaks().leaks).toEqual([]);
  });
});
