/**
 * Every answer the sidecar gives itself, in process: a real node:http proxy on 127.0.0.1:0, a
 * real engine and policy, raw sockets for what a fetch client cannot send. Each answer carries
 * `cache-control: no-store` and is counted in tokenwarden_requests_total with its reason.
 */
import { connect, type AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { Engine } from '../../../src/decide/engine.js';
import { EnforcementState } from '../../../src/decide/state.js';
import { KeyStore } from '../../../src/keys/store.js';
import { createLogger } from '../../../src/log/logger.js';
import { createSidecarMetrics, type SidecarMetrics } from '../../../src/metrics/sidecar.js';
import { compilePolicy } from '../../../src/policy/compile.js';
import type { TokenPolicy } from '../../../src/policy/types.js';
import { Upstream } from '../../../src/proxy/forward.js';
import { createProxyServer } from '../../../src/proxy/server.js';
import { MemoryReuseStore } from '../../../src/revocation/reuse.js';
import { VerifiedTokenCache } from '../../../src/token/cache.js';
import { TokenVerifier } from '../../../src/token/verify.js';
import { EC_PUBLIC_JWK } from '../../support/manifests.js';
import { parseSidecarArgs } from '../../../src/config/sidecar.js';

const POLICY: TokenPolicy = {
  apiVersion: 'tokenwarden.dev/v1alpha1',
  kind: 'TokenPolicy',
  metadata: { name: 'orders-api', namespace: 'shop' },
  spec: {
    issuers: [
      { issuer: 'https://auth.example.com/', audiences: ['orders'], jwks: { keys: [EC_PUBLIC_JWK] } },
    ],
    rules: [{ name: 'public', paths: ['/public/*'], action: 'Allow' }],
  },
};

interface Rig {
  port: number;
  metrics: SidecarMetrics;
  close(): Promise<void>;
}

const open: Rig[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((r) => r.close()));
});

/** The sidecar's defaults, as its flag parser gives them. */
const defaults = (() => {
  const parsed = parseSidecarArgs(['--policy', 'p.yaml', '--upstream', 'http://127.0.0.1:9'], {});
  if (parsed.help) throw new Error('help');
  return parsed.config;
})();

async function rig(withPolicy: boolean): Promise<Rig> {
  const state = new EnforcementState();
  if (withPolicy) state.apply(compilePolicy(POLICY), [], Date.now());
  const keys = new KeyStore();
  const metrics = createSidecarMetrics(new Registry());
  const engine = new Engine({
    state,
    verifier: new TokenVerifier(keys),
    cache: new VerifiedTokenCache(),
    reuse: new MemoryReuseStore(),
    keys,
  });
  // Port 9 on loopback: nothing listens, so forwarding fails to connect.
  const upstream = new Upstream({
    url: 'http://127.0.0.1:9',
    queueTimeoutMs: defaults.upstreamQueueTimeoutMs,
    writeStallTimeoutMs: defaults.responseStallTimeoutMs,
  });
  const log = createLogger('test', { level: 'silent' });
  const server: Server = createProxyServer({
    engine,
    upstream,
    metrics,
    log,
    maxHeaderBytes: 8 * 1024,
    maxHeaders: defaults.maxHeaders,
    headersTimeoutMs: defaults.headersTimeoutMs,
    body: {
      bufferBytes: defaults.bodyBufferBytes,
      idleTimeoutMs: defaults.bodyIdleTimeoutMs,
      minBytesPerSecond: defaults.bodyMinBytesPerSecond,
      graceMs: defaults.bodyRateWindowMs,
    },
    maxConnectionsPerClient: defaults.maxConnectionsPerClient,
    maxConnections: defaults.maxConnections,
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const r: Rig = {
    port: (server.address() as AddressInfo).port,
    metrics,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await upstream.close();
      keys.close();
    },
  };
  open.push(r);
  return r;
}

interface RawAnswer {
  status: number;
  headers: Map<string, string>;
  body: string;
}

/** Sends bytes, reads until the server closes (every case here asks for connection: close). */
function send(port: number, bytes: string): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const [head = '', body = ''] = text.split('\r\n\r\n', 2);
      const [statusLine = '', ...lines] = head.split('\r\n');
      const headers = new Map<string, string>();
      for (const l of lines) {
        const i = l.indexOf(':');
        headers.set(l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim());
      }
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body });
    });
    socket.setTimeout(5000, () => socket.destroy(new Error('no answer')));
    socket.write(bytes);
  });
}

async function counted(m: SidecarMetrics, decision: string, reason: string): Promise<number> {
  const metric = await m.registry.getSingleMetric('tokenwarden_requests_total')?.get();
  const v = metric?.values.find((x) => x.labels.decision === decision && x.labels.reason === reason);
  return v?.value ?? 0;
}

const get = (path: string, extra: string[] = []): string =>
  [`GET ${path} HTTP/1.1`, 'host: 127.0.0.1', ...extra, 'connection: close', '', ''].join('\r\n');

describe('answers the sidecar gives itself', () => {
  it.each([
    {
      name: 'no policy loaded: 503, counted deny/no_policy',
      policy: false,
      bytes: get('/orders/1'),
      status: 503,
      decision: 'deny',
      reason: 'no_policy',
      error: 'temporarily_unavailable',
    },
    {
      name: 'bytes that are not HTTP: 400 on the raw socket, counted deny/malformed_http',
      policy: true,
      bytes: 'NOT HTTP AT ALL\r\n\r\n',
      status: 400,
      decision: 'deny',
      reason: 'malformed_http',
      error: 'invalid_request',
    },
    {
      name: 'a head over the limit: 431 on the raw socket, counted deny/header_too_large',
      policy: true,
      bytes: get('/public/x', [`x-padding: ${'a'.repeat(16 * 1024)}`]),
      status: 431,
      decision: 'deny',
      reason: 'header_too_large',
      error: 'request_header_fields_too_large',
    },
    {
      name: 'an Upgrade: 501 on the raw socket, counted deny/upgrade_refused',
      policy: true,
      bytes: get('/public/ws', ['connection: Upgrade', 'upgrade: websocket']).replace(
        'connection: close\r\n',
        '',
      ),
      status: 501,
      decision: 'deny',
      reason: 'upgrade_refused',
      error: 'not_implemented',
    },
    {
      name: 'a framing the sidecar refuses (Transfer-Encoding other than chunked): 400, counted deny/malformed',
      policy: true,
      bytes: [
        'POST /public/x HTTP/1.1',
        'host: 127.0.0.1',
        'transfer-encoding: gzip, chunked',
        'connection: close',
        '',
        '0',
        '',
        '',
      ].join('\r\n'),
      status: 400,
      decision: 'deny',
      reason: 'malformed',
      error: 'invalid_request',
    },
    {
      name: 'an app that is down: 502, the request counted allow/public by its decision',
      policy: true,
      bytes: get('/public/x'),
      status: 502,
      decision: 'allow',
      reason: 'public',
      error: 'bad_gateway',
    },
  ])('$name', async ({ policy, bytes, status, decision, reason, error }) => {
    const r = await rig(policy);
    const answer = await send(r.port, bytes);
    expect(answer.status).toBe(status);
    expect(answer.headers.get('cache-control')).toBe('no-store');
    expect(answer.headers.get('content-type')).toBe('application/json');
    expect(Number(answer.headers.get('content-length'))).toBe(Buffer.byteLength(answer.body));
    expect((JSON.parse(answer.body) as { error: string }).error).toBe(error);
    expect(await counted(r.metrics, decision, reason)).toBe(1);
  });

  it('an app that is down is also counted in tokenwarden_upstream_errors_total', async () => {
    const r = await rig(true);
    await send(r.port, get('/public/x'));
    const metric = await r.metrics.registry.getSingleMetric('tokenwarden_upstream_errors_total')?.get();
    expect(metric?.values.find((v) => v.labels.kind === 'connect')?.value).toBe(1);
  });
});
