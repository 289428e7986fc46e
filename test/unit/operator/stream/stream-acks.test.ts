/**
 * Acks on the stream (stream-acks.ts): the line reader over an in-memory body, then the whole
 * route, `POST /v1/config` on a real fastify server on 127.0.0.1 with a real hub, driven by a
 * node:http client whose request body stays open as a sidecar's does.
 */
import { request } from 'node:http';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import {
  encodeStreamAck,
  MAX_STREAM_ACK_BYTES,
  type StreamAck,
} from '../../../../src/distribution/protocol.js';
import type { StreamHub } from '../../../../src/operator/stream/hub.js';
import { readAckLines } from '../../../../src/operator/stream/stream-acks.js';
import { until } from '../../../support/wait.js';
import { openDuplex, serveStreams, TOKEN, tick, type World } from './route-world.js';

const V = 'AAAAAAAAAAAAAAAAAAAAAA';
const ackLine = (generation: number, version = V): string => encodeStreamAck({ generation, version });

describe('readAckLines', () => {
  const cases: { name: string; chunks: string[]; acks: number[]; bad?: RegExp }[] = [
    { name: 'one ack per line', chunks: [ackLine(1) + ackLine(2)], acks: [1, 2] },
    { name: 'an ack split over chunks', chunks: [ackLine(3).slice(0, 9), ackLine(3).slice(9)], acks: [3] },
    { name: 'blank lines and CRLF', chunks: ['\n', ackLine(4).replace('\n', '\r\n')], acks: [4] },
    {
      name: 'a malformed line stops reading; nothing after it counts',
      chunks: [ackLine(1) + '{"type":"ack"}\n' + ackLine(2)],
      acks: [1],
      bad: /^generation: /,
    },
    {
      name: 'a session id on a line',
      chunks: [`{"type":"ack","session":"s","generation":1,"version":"${V}"}\n`],
      acks: [],
      bad: /^session: unknown field$/,
    },
    {
      name: 'a partial line past the bound, before its newline',
      chunks: ['{"type":"ack",', ' '.repeat(MAX_STREAM_ACK_BYTES)],
      acks: [],
      bad: /^line: a line is longer than 256 bytes$/,
    },
    {
      name: 'a partial line within the bound is held',
      chunks: [ackLine(5) + ackLine(6).slice(0, 20)],
      acks: [5],
    },
  ];
  it.each(cases)('$name', ({ chunks, acks, bad }) => {
    const body = new PassThrough();
    const got: StreamAck[] = [];
    const errors: string[] = [];
    readAckLines(body, { ack: (a) => got.push(a), bad: (e) => errors.push(e) });
    for (const c of chunks) body.write(Buffer.from(c));
    expect(got.map((a) => a.generation)).toEqual(acks);
    if (bad === undefined) expect(errors).toEqual([]);
    else expect(errors).toEqual([expect.stringMatching(bad)]);
  });

  it('the body ending or failing ends nothing, and stop() stops reading', () => {
    const body = new PassThrough();
    const got: StreamAck[] = [];
    const errors: string[] = [];
    const stop = readAckLines(body, { ack: (a) => got.push(a), bad: (e) => errors.push(e) });
    body.write(ackLine(1));
    stop();
    body.write(ackLine(2));
    body.emit('error', new Error('reset'));
    body.end();
    expect(got.map((a) => a.generation)).toEqual([1]);
    expect(errors).toEqual([]);
  });
});

// ---- the route ------------------------------------------------------------------------------

let world: World | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});
const serve = async (): Promise<World> => (world = await serveStreams());

const summary = (hub: StreamHub) => hub.policySummary().get('shop/orders');

describe('POST /v1/config', () => {
  it('streams as GET does and counts the acks on its request body', async () => {
    const { hub, port, revoke, errors } = await serve();
    const d = await openDuplex(port);
    expect(d.res.statusCode).toBe(200);
    expect(d.res.headers['content-type']).toBe('application/x-ndjson');
    await until('the snapshot', () => d.messages.length > 0);
    const snapshot = d.messages[0]!;
    expect(snapshot.type).toBe('snapshot');
    expect(summary(hub)).toMatchObject({ connected: 1, synced: 0 });
    d.req.write(ackLine(snapshot.generation as number, snapshot.version as string));
    await until('synced', () => summary(hub)?.synced === 1);

    await revoke('leak');
    await until('the delta', () => d.messages.some((m) => m.type === 'delta'));
    const delta = d.messages.find((m) => m.type === 'delta')!;
    expect(summary(hub)).toMatchObject({ synced: 0 });
    // A version this session was never sent: ignored and counted, the stream goes on.
    d.req.write(ackLine(delta.generation as number, V));
    await until('unsent_version counted', async () => (await errors('unsent_version')) === 1);
    expect(hub.revocationSummary().get('shop/leak')).toMatchObject({ pending: 1, sidecars: 0 });
    d.req.write(ackLine(delta.generation as number, delta.version as string));
    await until('synced on the delta', () => summary(hub)?.synced === 1);
    expect(hub.revocationSummary().get('shop/leak')).toMatchObject({ pending: 0, sidecars: 1 });
    expect(d.res.destroyed).toBe(false);
    d.req.destroy();
    await until('disconnected', () => hub.sessions.size === 0);
    expect(await errors('bad_ack')).toBe(0);
  });

  it('the sidecar half-closing its body ends nothing', async () => {
    const { hub, port } = await serve();
    const d = await openDuplex(port);
    await until('the snapshot', () => d.messages.length > 0);
    d.req.end();
    await tick();
    await new Promise((r) => setTimeout(r, 50));
    expect(hub.sessions.size).toBe(1);
    expect(d.res.complete).toBe(false);
    d.req.destroy();
    await until('disconnected', () => hub.sessions.size === 0);
  });

  it.each([
    { name: 'a malformed line', line: '{"type":"ack","generation":"1"}\n' },
    { name: 'a line past the bound', line: `{"type":"ack","version":"${'A'.repeat(300)}` },
  ])('$name ends the session as bad_ack', async ({ line }) => {
    const { hub, port, errors } = await serve();
    const d = await openDuplex(port);
    await until('the snapshot', () => d.messages.length > 0);
    d.req.write(line);
    await d.ended;
    expect(d.res.complete).toBe(true);
    await until('disconnected', () => hub.sessions.size === 0);
    expect(await errors('bad_ack')).toBe(1);
    d.req.destroy();
  });

  it('is refused like GET without a valid token, and answers 415 to another body type', async () => {
    const { port, errors } = await serve();
    const status = (headers: Record<string, string>) =>
      new Promise<number | undefined>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/config', headers });
        req.on('response', (res) => {
          res.resume();
          resolve(res.statusCode);
        });
        req.on('error', reject);
        req.end('{}\n');
      });
    expect(await status({ 'content-type': 'application/x-ndjson', authorization: 'Bearer nope' })).toBe(401);
    expect(await errors('token_invalid')).toBe(1);
    expect(await status({ 'content-type': 'text/plain', authorization: `Bearer ${TOKEN}` })).toBe(415);
  });
});
