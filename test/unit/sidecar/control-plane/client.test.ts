/**
 * The stream client in-process against the real HTTPS stream peer (test/support/stream-server.ts):
 * the behaviours that need a misbehaving or slow peer, which the black-box suite cannot wait for.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyStore } from '../../../../src/keys/store.js';
import { createLogger } from '../../../../src/log/logger.js';
import type { TokenPolicy } from '../../../../src/policy/types.js';
import { StreamApplier } from '../../../../src/sidecar/control-plane/apply.js';
import { StreamClient, type ReconnectReason } from '../../../../src/sidecar/control-plane/client.js';
import { EnforcementState } from '../../../../src/decide/state.js';
import { startStreamServer, type StreamServer } from '../../../support/stream-server.js';
import { until } from '../../../support/wait.js';

const POLICY: TokenPolicy = {
  apiVersion: 'tokenwarden.dev/v1alpha1',
  kind: 'TokenPolicy',
  metadata: { name: 'orders-api', namespace: 'shop', generation: 1 },
  spec: {
    selector: { matchLabels: { app: 'orders' } },
    targetPort: 8080,
    issuers: [
      {
        issuer: 'https://auth.example.com/',
        audiences: ['orders'],
        jwksUri: 'https://auth.example.com/jwks',
      },
    ],
  },
};

let dir: string;
let tokenFile: string;
let tls: StreamServer['tls'];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tokenwarden-client-'));
  tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, 'pod-token-1');
  const s = await startStreamServer({ policy: POLICY });
  tls = s.tls;
  await s.close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Harness {
  server: StreamServer;
  client: StreamClient;
  state: EnforcementState;
  reasons: ReconnectReason[];
  logs: Record<string, unknown>[];
  stop(): Promise<void>;
}

async function harness(
  opts: {
    heartbeatMs?: number;
    peerTimeoutMs?: number;
    maxLineBytes?: number;
    acksOnStream?: boolean;
    ackIntervalMs?: number;
  } = {},
): Promise<Harness> {
  const server = await startStreamServer({
    policy: POLICY,
    tls,
    heartbeatMs: opts.heartbeatMs ?? 60_000,
    ...(opts.acksOnStream === undefined ? {} : { acksOnStream: opts.acksOnStream }),
  });
  server.allowToken('pod-token-1');
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n'))
        if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const log = createLogger('test', { level: 'debug', destination: sink });
  const state = new EnforcementState();
  const keys = new KeyStore();
  const reasons: ReconnectReason[] = [];
  const client = new StreamClient({
    url: new URL(server.url),
    caPem: server.caPem,
    tokenFile,
    applier: new StreamApplier({ state, keys }),
    log,
    onApplied: () => undefined,
    onRefused: () => undefined,
    onConnectedChange: () => undefined,
    onReconnect: (r) => reasons.push(r),
    backoff: { baseMs: 50, capMs: 200, resetAfterMs: 10_000 },
    peerTimeoutMs: opts.peerTimeoutMs,
    maxLineBytes: opts.maxLineBytes,
    ackIntervalMs: opts.ackIntervalMs,
  });
  client.start();
  return {
    server,
    client,
    state,
    reasons,
    logs,
    async stop() {
      await client.stop();
      keys.close();
      await server.close();
    },
  };
}

describe('StreamClient', () => {
  it('refuses a token file whose token a header cannot carry (no throw from https.request), then recovers', async () => {
    // A newline inside the token made https.request throw inside #connect, an unhandled rejection
    // that ended the sidecar process.
    writeFileSync(tokenFile, 'pod-to\nken-1\n');
    const h = await harness();
    try {
      await until("h.reasons.includes('token_unreadable')", () => h.reasons.includes('token_unreadable'));
      expect(h.server.connects).toHaveLength(0);
      expect(JSON.stringify(h.logs)).not.toContain('ken-1');
      writeFileSync(tokenFile, 'pod-token-1');
      await until('h.state.active !== undefined', () => h.state.active !== undefined);
    } finally {
      writeFileSync(tokenFile, 'pod-token-1');
      await h.stop();
    }
  });

  it('drops a silent stream after the peer timeout and reconnects', async () => {
    const h = await harness({ peerTimeoutMs: 300 });
    try {
      await until('h.state.active !== undefined', () => h.state.active !== undefined);
      await until("h.reasons.includes('heartbeat_timeout')", () => h.reasons.includes('heartbeat_timeout'));
      await until('h.server.connects.length >= 2', () => h.server.connects.length >= 2);
      expect(h.server.connects[1]?.version).toBe(h.server.version);
    } finally {
      await h.stop();
    }
  });

  it('keeps a stream that heartbeats within the timeout', async () => {
    const h = await harness({ peerTimeoutMs: 400, heartbeatMs: 100 });
    try {
      await until('h.state.active !== undefined', () => h.state.active !== undefined);
      await new Promise((r) => setTimeout(r, 1_000));
      expect(h.reasons).toEqual([]);
      expect(h.server.connects).toHaveLength(1);
    } finally {
      await h.stop();
    }
  });

  it('on a delta for another base, keeps its config, reconnects and asks for a snapshot', async () => {
    const h = await harness();
    try {
      await until('h.state.active !== undefined', () => h.state.active !== undefined);
      const generation = h.state.active?.generation;
      h.server.sendRaw(
        JSON.stringify({
          type: 'delta',
          session: 's',
          generation: 99,
          version: 'v-new',
          base: 'v-unknown',
          revocationsRemoved: ['x'],
        }),
      );
      await until("h.reasons.includes('base_mismatch')", () => h.reasons.includes('base_mismatch'));
      await until('h.server.connects.length >= 2', () => h.server.connects.length >= 2);
      expect(h.server.connects[1]).toMatchObject({ version: null, sent: 'snapshot' });
      await until(
        '(h.state.active?.generation ?? 0) > (generation ?? 0)',
        () => (h.state.active?.generation ?? 0) > (generation ?? 0),
      );
    } finally {
      await h.stop();
    }
  });

  it('refuses an over-long line and a line that is not a message, reconnecting each time', async () => {
    const h = await harness({ maxLineBytes: 64 * 1024 });
    try {
      await until('h.state.active !== undefined', () => h.state.active !== undefined);
      h.server.sendRaw('x'.repeat(70 * 1024));
      await until("h.reasons.includes('line_too_long')", () => h.reasons.includes('line_too_long'));
      await until(
        'h.server.connects.length >= 2 && h.server.sessions() === 1',
        () => h.server.connects.length >= 2 && h.server.sessions() === 1,
      );
      h.server.sendRaw('{"type":"surprise"}');
      await until("h.reasons.includes('bad_message')", () => h.reasons.includes('bad_message'));
      expect(
        h.logs.some((l) => l.msg === 'stream message refused' && String(l.err).includes('surprise')),
      ).toBe(true);
    } finally {
      await h.stop();
    }
  });

  it('keeps the old config when a snapshot does not validate', async () => {
    const h = await harness();
    try {
      await until('h.state.active !== undefined', () => h.state.active !== undefined);
      const before = h.state.active;
      const bad = { ...POLICY, spec: { ...POLICY.spec, issuers: [{ issuer: 'not a url', audiences: [] }] } };
      h.server.setPolicy(bad);
      await new Promise((r) => setTimeout(r, 300));
      expect(h.state.active).toBe(before);
    } finally {
      await h.stop();
    }
  });

  it('acks on the stream: POST /v1/config, one line per ack on its body, no ack POST', async () => {
    const h = await harness({ ackIntervalMs: 100 });
    try {
      await until('two acks', () => h.server.acks.length >= 2);
      expect(h.server.connects).toEqual([expect.objectContaining({ method: 'POST', status: 200 })]);
      for (const a of h.server.acks)
        expect(a).toMatchObject({
          via: 'stream',
          version: h.server.version,
          authorization: 'Bearer pod-token-1',
        });
      h.server.upsertRevocation({
        apiVersion: 'tokenwarden.dev/v1alpha1',
        kind: 'TokenRevocation',
        metadata: { name: 'leak', namespace: 'shop' },
        spec: { tokens: [{ jti: 'leak' }] },
      });
      await until('an ack of the new version', () =>
        h.server.acks.some((a) => a.version === h.server.version),
      );
      expect(h.server.badAcks).toEqual([]);
      expect(h.reasons).toEqual([]);
    } finally {
      await h.stop();
    }
  });

  it('falls back to GET + POST /v1/ack against an operator without acks on the stream, and remembers it', async () => {
    const h = await harness({ acksOnStream: false, peerTimeoutMs: 300, heartbeatMs: 60_000 });
    try {
      await until('an ack', () => h.server.acks.length > 0);
      expect(h.server.connects.slice(0, 2)).toEqual([
        expect.objectContaining({ method: 'POST', status: 404 }),
        expect.objectContaining({ method: 'GET', status: 200 }),
      ]);
      expect(h.server.acks[0]).toMatchObject({ via: 'post', version: h.server.version });
      // Not a failure: no reconnect counted for the 404.
      expect(h.reasons).toEqual([]);
      // The next stream (after a silent peer) goes straight to GET.
      await until('a reconnect', () => h.server.connects.length >= 3);
      expect(h.server.connects[2]).toMatchObject({ method: 'GET' });
    } finally {
      await h.stop();
    }
  });

  it("a contract refusal of the POST (404 no_policy) is the pod's refusal, not an older operator", async () => {
    const h = await harness();
    try {
      h.server.refuse({ status: 404, reason: 'no_policy', message: 'no TokenPolicy selects this pod' });
      await until('two refused connects', () => h.server.connects.length >= 2);
      expect(h.server.connects.every((c) => c.method === 'POST')).toBe(true);
      expect(h.reasons.every((r) => r === 'refused')).toBe(true);
      h.server.refuse(undefined);
      await until('h.state.active !== undefined', () => h.state.active !== undefined);
    } finally {
      await h.stop();
    }
  });
});
