/**
 * The app behind the sidecar: a real node:http server on 127.0.0.1 that records every request
 * it receives and answers with what it saw (method, target, headers, body length and hash), so
 * tests can assert what reached the app and what did not.
 *
 *   /slow?ms=N      answers after N ms (default 1000): an in-flight request during a reload
 *   /chunked        answers a chunked body in several writes (content: `chunkedBody()`)
 *   /duplex         answers at once and echoes the request body as it arrives (streaming proof)
 *   /two-connection answers with two Connection lines, each naming a private header
 *   /big?bytes=N    answers N bytes of `bigBody(N)`, chunked, respecting backpressure
 *   /early          answers 200 at once without reading the request body (recorded with length 0)
 *   anything else   echoes
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  method: string;
  /** The request target as the app got it (path and query). */
  url: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  bodyLength: number;
  bodySha256: string;
  /** The body as text when it is short (the echo holds it too). */
  body: string;
}

export interface App {
  readonly url: string;
  readonly port: number;
  readonly received: Received[];
  /** Requests received for exactly this path (any query). */
  receivedFor(path: string): Received[];
  /** Stop listening (the sidecar sees connection refused) and start again on the same port. */
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

export const CHUNKS = 8;
export const CHUNK_BYTES = 16 * 1024;

/** What /chunked sends: CHUNKS writes of CHUNK_BYTES each, every byte depending on its position. */
export function chunkedBody(): Buffer {
  const buf = Buffer.alloc(CHUNKS * CHUNK_BYTES);
  for (let i = 0; i < buf.length; i++) buf[i] = (i * 31 + (i >> 8)) & 0xff;
  return buf;
}

/** What /big sends: `bytes` bytes, each depending on its position. */
export function bigBody(bytes: number): Buffer {
  const buf = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) buf[i] = (i * 7 + (i >> 12)) & 0xff;
  return buf;
}

export async function startApp(): Promise<App> {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    if (req.url?.startsWith('/early')) {
      received.push({
        method: req.method ?? '',
        url: req.url,
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        bodyLength: 0,
        bodySha256: '',
        body: '',
      });
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '5' });
      res.end('early');
      return;
    }
    if (req.url?.startsWith('/duplex')) {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      req.on('data', (chunk: Buffer) => res.write(chunk));
      req.on('end', () => res.end());
      return;
    }
    const hash = createHash('sha256');
    const chunks: Buffer[] = [];
    let length = 0;
    req.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      length += chunk.length;
      if (length <= 64 * 1024) chunks.push(chunk);
    });
    req.on('end', () => {
      const got: Received = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        bodyLength: length,
        bodySha256: hash.digest('hex'),
        body: length <= 64 * 1024 ? Buffer.concat(chunks).toString('utf8') : '',
      };
      received.push(got);
      const url = new URL(got.url, 'http://app.invalid');
      if (url.pathname.startsWith('/slow')) {
        const ms = Number(url.searchParams.get('ms') ?? '1000');
        setTimeout(() => echo(res, got), ms);
        return;
      }
      if (url.pathname === '/big') {
        const body = bigBody(Number(url.searchParams.get('bytes') ?? '1048576'));
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        let at = 0;
        const pump = (): void => {
          while (at < body.length) {
            const chunk = body.subarray(at, at + 64 * 1024);
            at += chunk.length;
            if (!res.write(chunk)) {
              res.once('drain', pump);
              return;
            }
          }
          res.end();
        };
        pump();
        return;
      }
      if (url.pathname === '/two-connection') {
        res.writeHead(200, [
          'connection',
          'x-private-a',
          'connection',
          'x-private-b',
          'x-private-a',
          '1',
          'x-private-b',
          '2',
          'content-length',
          '2',
        ]);
        res.end('ok');
        return;
      }
      if (url.pathname === '/chunked') {
        const body = chunkedBody();
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-app': 'chunked' });
        let i = 0;
        const next = (): void => {
          if (i === CHUNKS) {
            res.end();
            return;
          }
          res.write(body.subarray(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES));
          i++;
          setTimeout(next, 10);
        };
        next();
        return;
      }
      echo(res, got);
    });
  });
  server.keepAliveTimeout = 1_000;
  const listen = (port: number): Promise<number> =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve((server.address() as AddressInfo).port);
      });
    });
  const port = await listen(0);
  let up = true;
  const stop = (): Promise<void> =>
    new Promise((resolve) => {
      if (!up) return resolve();
      up = false;
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    received,
    receivedFor: (path) => received.filter((r) => r.url === path || r.url.startsWith(`${path}?`)),
    stop,
    async start() {
      if (up) return;
      await listen(port);
      up = true;
    },
    close: stop,
  };
}

function echo(res: ServerResponse, got: Received): void {
  const body = JSON.stringify({
    app: 'echo',
    method: got.method,
    url: got.url,
    headers: got.headers,
    bodyLength: got.bodyLength,
    bodySha256: got.bodySha256,
    body: got.body,
  });
  // A hop-by-hop header of the app's own, which must not reach the client.
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
    'x-app-private': 'hop',
    connection: 'x-app-private',
  });
  res.end(body);
}
