/**
 * The stream's own chunk framing (stream-socket.ts), on a real node:http server on 127.0.0.1:
 * what an HTTP/1.1 client parses is exactly the lines written (heads with shared bodies,
 * heartbeats, non-ASCII text), in order, with lines held before the headers first and Node's
 * last chunk after ours; a raw socket sees well-formed chunks; an HTTP/1.0 peer (no chunked
 * encoding) still gets the bare lines; a peer that never reads is dropped as slow_consumer.
 */
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { StreamSocket, type Dropped } from '../../../../src/operator/stream/stream-socket.js';
import { until } from '../../../support/wait.js';

interface Served {
  readonly url: string;
  /** The StreamSocket of each request, once its handler ran. */
  readonly sockets: StreamSocket[];
  readonly closed: (Dropped | undefined)[];
}

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  server = undefined;
});

/**
 * A raw TCP peer that sends `requestText` and keeps every byte it reads (as `encoding`); it
 * resolves once the server's handler has its StreamSocket.
 */
async function rawPeer(s: Served, requestText: string, encoding: BufferEncoding) {
  const { port } = new URL(s.url);
  const raw = connect(Number(port), '127.0.0.1');
  const peer = { raw, wire: '', ended: new Promise((r) => raw.on('end', r)) };
  raw.on('data', (c: Buffer) => (peer.wire += c.toString(encoding)));
  raw.write(requestText);
  await until('the handler ran', () => s.sockets.length === 1);
  return { ...peer, io: (s.sockets[0] as StreamSocket).io, wire: () => peer.wire };
}

/** Each request: `early` lines written before goLive, then the socket handed to the test. */
async function serve(
  maxBuffered: number,
  early: (io: StreamSocket['io']) => void = () => undefined,
): Promise<Served> {
  const sockets: StreamSocket[] = [];
  const closed: (Dropped | undefined)[] = [];
  server = createServer((_req, res: ServerResponse) => {
    const s = new StreamSocket(res, maxBuffered);
    early(s.io);
    s.goLive((dropped) => closed.push(dropped));
    sockets.push(s);
  });
  await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/`, sockets, closed };
}

function fetchAll(url: string): Promise<{ res: IncomingMessage; body: Promise<string> }> {
  return new Promise((ok, fail) => {
    const req = request(url, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      ok({
        res,
        body: new Promise((done) => res.on('end', () => done(Buffer.concat(chunks).toString('utf8')))),
      });
    });
    req.on('error', fail);
    req.end();
  });
}

describe('StreamSocket', () => {
  it('an HTTP/1.1 client reads exactly the lines written: held ones first, shared bodies, heartbeats, UTF-8', async () => {
    const shared = Buffer.from('"generation":3,"reason":"stolen – ключ 🔑"}\n', 'utf8');
    const s = await serve(1 << 20, (io) => io.write('{"type":"snapshot","session":"abc",', shared));
    const { res, body } = await fetchAll(s.url);
    expect(res.headers['transfer-encoding']).toBe('chunked');
    await until('the handler ran', () => s.sockets.length === 1);
    const io = (s.sockets[0] as StreamSocket).io;
    io.write('{"type":"delta","session":"abc",', shared);
    io.write('{"type":"heartbeat","at":1}\n');
    io.write('{"type":"delta","session":"abc",', shared);
    io.end('shutdown');
    const text = await body;
    const line = `{"type":"snapshot","session":"abc",${shared.toString('utf8')}`;
    expect(text).toBe(
      line +
        `{"type":"delta","session":"abc",${shared.toString('utf8')}` +
        '{"type":"heartbeat","at":1}\n' +
        `{"type":"delta","session":"abc",${shared.toString('utf8')}`,
    );
    expect(
      text
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as unknown),
    ).toHaveLength(4);
  });

  it('on the wire: one chunk per line, sized in bytes, then the last chunk', async () => {
    const s = await serve(1 << 20);
    const { raw, io, wire } = await rawPeer(s, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', 'latin1');
    const body = Buffer.from('"é":1}\n', 'utf8');
    io.write('{"h":"a",', body);
    io.end('shutdown');
    await until('the last chunk', () => wire().endsWith('0\r\n\r\n'));
    raw.destroy();
    const chunks = wire().slice(wire().indexOf('\r\n\r\n') + 4);
    const size = Buffer.byteLength('{"h":"a",') + body.length;
    expect(chunks).toBe(`${size.toString(16)}\r\n{"h":"a",${body.toString('latin1')}\r\n0\r\n\r\n`);
  });

  it('an HTTP/1.0 peer gets the bare lines (Node does not chunk for it)', async () => {
    const s = await serve(1 << 20);
    const { io, wire, ended } = await rawPeer(s, 'GET / HTTP/1.0\r\n\r\n', 'utf8');
    io.write('{"a":', Buffer.from('1}\n'));
    io.write('{"type":"heartbeat","at":2}\n');
    io.end('shutdown');
    await ended;
    expect(wire().slice(wire().indexOf('\r\n\r\n') + 4)).toBe('{"a":1}\n{"type":"heartbeat","at":2}\n');
  });

  it('a peer that never reads is dropped once its unsent bytes pass the bound', async () => {
    const s = await serve(64 * 1024);
    const { port } = new URL(s.url);
    const raw = connect(Number(port), '127.0.0.1');
    raw.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    raw.pause(); // never reads
    await until('the handler ran', () => s.sockets.length === 1);
    const io = (s.sockets[0] as StreamSocket).io;
    const body = Buffer.alloc(16 * 1024, 'x');
    // Bounded: the kernel's buffers and the 64 KiB bound fill long before 10,000 lines of 16 KiB.
    for (let i = 0; i < 10_000 && s.closed.length === 0; i++) {
      io.write('{"p":"', body);
      if (i % 50 === 0) await new Promise((r) => setImmediate(r));
    }
    await until('the close', () => s.closed.length === 1);
    expect(s.closed).toEqual(['slow_consumer']);
    raw.destroy();
  });
});
