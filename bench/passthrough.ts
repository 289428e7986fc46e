/**
 * The floor: a plain Node reverse proxy with no authentication (node:http server, undici Pool
 * to the app). Whatever the sidecar costs above this is the price of its own work.
 * Usage: node dist/bench/passthrough.js LISTEN_PORT UPSTREAM_URL
 */
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { Pool } from 'undici';

const port = Number(process.argv[2]);
const upstream = process.argv[3];
if (!Number.isInteger(port) || port <= 0 || port > 65535 || upstream === undefined) {
  console.error('usage: passthrough.js LISTEN_PORT UPSTREAM_URL');
  process.exit(2);
}

// RFC 9110 §7.6.1: connection-specific fields are not forwarded.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
]);

function forwardable(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  }
  return out;
}

const pool = new Pool(upstream, { connections: 128, pipelining: 1 });

const server = createServer((req, res) => {
  const hasBody =
    req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
  pool
    .stream(
      {
        path: req.url ?? '/',
        method: req.method as 'GET',
        headers: forwardable(req.headers) as Record<string, string>,
        body: hasBody ? req : null,
      },
      ({ statusCode, headers }) => {
        res.writeHead(statusCode, forwardable(headers));
        return res;
      },
    )
    .catch(() => {
      if (!res.headersSent) res.writeHead(502, { 'content-length': 0 });
      res.end();
    });
});
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => {
  server.close(() => void pool.close().then(() => process.exit(0)));
});
