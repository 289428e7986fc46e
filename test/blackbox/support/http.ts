/**
 * Requests to the sidecar. `send` is an ordinary client (undici); `raw` writes bytes on a
 * node:net socket for what no well-behaved client sends: two Authorization headers, both
 * Content-Length and Transfer-Encoding, a 64 KiB header, non-ASCII bytes, unnormalised paths.
 * Every bearer token that goes out is recorded in the ledger.
 */
import { connect } from 'node:net';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { recordToken } from './ledger.js';

export interface Response {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The body parsed as JSON (throws when it is not). */
  json<T = Record<string, unknown>>(): T;
}

export interface SendOptions {
  method?: string;
  token?: string;
  /** The whole Authorization value, for another scheme or spelling. */
  authorization?: string;
  headers?: Record<string, string>;
  body?: string | Buffer | Iterable<Buffer> | AsyncIterable<Buffer>;
  timeoutMs?: number;
}

function recordAuthorization(value: string): void {
  const space = value.indexOf(' ');
  recordToken(space === -1 ? value : value.slice(space + 1));
}

export async function send(baseUrl: string, path: string, opts: SendOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
  if (opts.authorization !== undefined) headers.authorization = opts.authorization;
  if (headers.authorization !== undefined) recordAuthorization(headers.authorization);
  const res = await request(`${baseUrl}${path}`, {
    method: (opts.method ?? 'GET') as 'GET',
    headers,
    body:
      opts.body === undefined || typeof opts.body === 'string' || Buffer.isBuffer(opts.body)
        ? opts.body
        : Readable.from(opts.body),
    headersTimeout: opts.timeoutMs ?? 10_000,
    bodyTimeout: opts.timeoutMs ?? 10_000,
  });
  const text = await res.body.text();
  return {
    status: res.statusCode,
    headers: res.headers,
    text,
    json: <T>() => JSON.parse(text) as T,
  };
}

export interface RawResponse {
  status: number;
  /** Lower-case names; repeated headers in order. */
  headers: Map<string, string[]>;
  header(name: string): string | undefined;
  body: Buffer;
  text: string;
  /** Everything the server sent, as latin1. */
  raw: string;
}

/**
 * Writes `data` on a fresh connection and reads the first response. The request should carry
 * `connection: close` unless the server is expected to close anyway; reading stops at the end
 * of the first response's body or when the server closes, whichever comes first.
 */
export function raw(port: number, data: string | Buffer, timeoutMs = 5_000): Promise<RawResponse> {
  if (typeof data === 'string') {
    for (const m of data.matchAll(/^authorization:\s*(.*)$/gim)) recordAuthorization((m[1] ?? '').trim());
  }
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (err?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) return reject(err);
      const parsed = parseResponse(Buffer.concat(chunks));
      if (parsed === undefined)
        reject(
          new Error(
            `no complete HTTP response: ${JSON.stringify(Buffer.concat(chunks).toString('latin1').slice(0, 200))}`,
          ),
        );
      else resolve(parsed);
    };
    const timer = setTimeout(
      () => finish(new Error(`raw request timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (parseResponse(Buffer.concat(chunks), true) !== undefined) finish();
    });
    socket.on('end', () => finish());
    socket.on('close', () => finish());
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // The server may reset after answering an oversized request: keep what arrived.
      if (chunks.length > 0 && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) finish();
      else finish(err);
    });
    socket.write(data);
  });
}

/** A complete response, or undefined. `strict`: only when the body is known to be complete. */
function parseResponse(buf: Buffer, strict = false): RawResponse | undefined {
  const end = buf.indexOf('\r\n\r\n');
  if (end === -1) return undefined;
  const head = buf.subarray(0, end).toString('latin1');
  const [statusLine, ...lines] = head.split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1]);
  if (!Number.isInteger(status)) return undefined;
  const headers = new Map<string, string[]>();
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    headers.set(name, [...(headers.get(name) ?? []), line.slice(colon + 1).trim()]);
  }
  let body = buf.subarray(end + 4);
  const length = headers.get('content-length')?.[0];
  if (length !== undefined) {
    if (body.length < Number(length)) return strict ? undefined : build();
    body = body.subarray(0, Number(length));
  } else if (headers.get('transfer-encoding')?.[0]?.toLowerCase() === 'chunked') {
    const decoded = dechunk(body);
    if (decoded === undefined) return strict ? undefined : build();
    body = decoded;
  } else if (strict) {
    return undefined; // body delimited by the close
  }
  return build();

  function build(): RawResponse {
    return {
      status,
      headers,
      header: (name) => headers.get(name.toLowerCase())?.[0],
      body,
      text: body.toString('utf8'),
      raw: buf.toString('latin1'),
    };
  }
}

function dechunk(buf: Buffer): Buffer | undefined {
  const out: Buffer[] = [];
  let at = 0;
  for (let i = 0; i < 100_000; i++) {
    const lineEnd = buf.indexOf('\r\n', at);
    if (lineEnd === -1) return undefined;
    const size = parseInt(buf.subarray(at, lineEnd).toString('latin1'), 16);
    if (!Number.isFinite(size)) return undefined;
    if (size === 0) return Buffer.concat(out);
    if (buf.length < lineEnd + 2 + size + 2) return undefined;
    out.push(buf.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  return undefined;
}

/** `GET path` with these extra header lines, closed after the response. */
export function rawGet(port: number, path: string, headerLines: string[] = []): Promise<RawResponse> {
  return raw(
    port,
    [`GET ${path} HTTP/1.1`, 'host: 127.0.0.1', ...headerLines, 'connection: close', '', ''].join('\r\n'),
  );
}

/** A raw HTTP/1.1 request: head lines joined with CRLF, a blank line, then the body. */
export function requestText(lines: string[], body = ''): string {
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}
