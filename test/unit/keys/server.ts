/**
 * A real HTTP server on 127.0.0.1, port 0, standing in for an identity provider (or an attacker's
 * host): routes answer what the test says, and every request is recorded so a test can count
 * fetches. No mocks: the code under test speaks real HTTP to it through globalThis.fetch.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Reply {
  status?: number;
  /** An object is sent as JSON; a string as is. */
  body?: unknown;
  headers?: Record<string, string>;
  /** Wait this long before answering (timeouts). */
  delayMs?: number;
  /** Send the body in chunks without a content-length (size caps that must stream). */
  chunked?: boolean;
}

export type Route = (req: IncomingMessage) => Reply;

export interface TestServer {
  readonly origin: string;
  readonly routes: Map<string, Route>;
  /** Paths (with query) of every request received, in order. */
  readonly requests: string[];
  count(path: string): number;
  close(): Promise<void>;
}

export async function startServer(): Promise<TestServer> {
  const routes = new Map<string, Route>();
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = req.url ?? '/';
    requests.push(path);
    const route = routes.get(path.split('?')[0] ?? path);
    const reply: Reply = route ? route(req) : { status: 404, body: { error: 'not found' } };
    const send = (): void => {
      const body =
        reply.body === undefined
          ? ''
          : typeof reply.body === 'string'
            ? reply.body
            : JSON.stringify(reply.body);
      const headers: Record<string, string> = { 'content-type': 'application/json', ...reply.headers };
      if (reply.chunked) {
        res.writeHead(reply.status ?? 200, headers);
        const step = 64 * 1024;
        for (let i = 0; i < body.length; i += step) res.write(body.slice(i, i + step));
        res.end();
        return;
      }
      res.writeHead(reply.status ?? 200, { ...headers, 'content-length': String(Buffer.byteLength(body)) });
      res.end(body);
    };
    if (reply.delayMs) setTimeout(send, reply.delayMs);
    else send();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    routes,
    requests,
    count: (path) => requests.filter((p) => p === path).length,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
