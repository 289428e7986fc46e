/**
 * The upstream app every target forwards to: node:http on loopback, 200 with a small body.
 * Usage: node dist/bench/app.js PORT
 */
import { createServer } from 'node:http';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error('usage: app.js PORT');
  process.exit(2);
}

const body = Buffer.from('{"ok":true}\n');
const server = createServer((req, res) => {
  // Drain any request body so the connection stays reusable.
  req.resume();
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
