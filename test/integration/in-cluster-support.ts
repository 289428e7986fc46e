/**
 * Helpers of the end-to-end in-cluster tests: the REAL operator and sidecar processes
 * (dist/cmd/tokenwarden.js) against the real kube-apiserver of the integration harness, a
 * recording upstream app, and a TCP forwarder that plays the operator's Service.
 * Process spawning follows bench/propagation.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer as createHttpServer, type Server } from 'node:http';
import { connect, createServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { CLI, sleep } from './operator-support.js';

export interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  output(): string;
  readonly exited: Promise<void>;
}

const running = new Set<Proc>();

export function spawnCli(name: string, args: string[], env: Record<string, string> = {}): Proc {
  const child = spawn(process.execPath, [CLI, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let out = '';
  const keep = (s: Buffer): void => {
    out = (out + s.toString()).slice(-200_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const p: Proc = { name, child, output: () => out, exited };
  running.add(p);
  void exited.then(() => running.delete(p));
  return p;
}

export function alive(p: Proc): boolean {
  return p.child.exitCode === null && p.child.signalCode === null;
}

export async function stop(p: Proc, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (alive(p)) p.child.kill(signal);
  await Promise.race([p.exited, sleep(10_000)]);
  if (alive(p)) {
    p.child.kill('SIGKILL');
    await p.exited;
  }
}

/** Kills every process started here (afterAll, and on failure). */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((p) => stop(p)));
}

/** The upstream app: answers 200 and records each request's method and path. */
export async function recordingApp(): Promise<{ url: string; seen: string[]; close(): Promise<void> }> {
  const seen: string[] = [];
  const server: Server = createHttpServer((req, res) => {
    seen.push(`${req.method ?? ''} ${req.url ?? ''}`);
    res.writeHead(200, { 'content-type': 'text/plain' }).end('app ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

/**
 * The operator's Service, played by a TCP forwarder: each new connection goes to the first
 * replica (in `ports` order) that accepts it. `connections[port]` counts what each one got.
 */
export async function forwarder(ports: number[]): Promise<{
  port: number;
  connections: Map<number, number>;
  close(): Promise<void>;
}> {
  const connections = new Map<number, number>(ports.map((p) => [p, 0]));
  const sockets = new Set<Socket>();
  const track = (s: Socket): void => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  };
  const dial = (i: number, client: Socket): void => {
    const port = ports[i];
    if (port === undefined) {
      client.destroy();
      return;
    }
    const upstream = connect(port, '127.0.0.1');
    let connected = false;
    upstream.once('error', () => {
      if (!connected) dial(i + 1, client);
    });
    upstream.once('connect', () => {
      connected = true;
      connections.set(port, (connections.get(port) ?? 0) + 1);
      track(upstream);
      client.pipe(upstream).pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
      client.resume();
    });
  };
  const server: NetServer = createServer({ pauseOnConnect: true }, (client) => {
    track(client);
    client.on('error', () => undefined);
    dial(0, client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as AddressInfo).port,
    connections,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** GET `url` with an optional bearer token; returns the status (0 when nothing answered). */
export async function statusOf(url: string, token?: string): Promise<number> {
  try {
    const res = await fetch(url, {
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(5_000),
    });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}
