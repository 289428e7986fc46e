/**
 * The slow clients of bench/slow-clients.ts, on raw sockets from 127.0.1.x (each address its own
 * client, as an attacker with many addresses would be). Each attacker keeps its connection open
 * as long as the sidecar lets it and opens a new one when it is cut, until stopped: the pressure
 * stays at `count` connections for the whole phase. Loopback only; every socket is destroyed on
 * stop.
 *
 *   headers    slowloris: a request head that never ends, one header line every 2 s
 *   body       a large Content-Length, 70,000 bytes at once, then 1 byte every 14 s
 *   no-read    GET of a large response, never read (the socket is paused)
 */
import { connect, type Socket } from 'node:net';

export type AttackKind = 'headers' | 'body' | 'no-read';

export interface Attack {
  /** Connections opened in all (the first ones and the re-connections after a cut). */
  readonly opened: () => number;
  stop(): void;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function startAttack(kind: AttackKind, count: number, port: number, path: string): Attack {
  let stopped = false;
  let opened = 0;
  const live = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();

  const every = (ms: number, fn: () => void): NodeJS.Timeout => {
    const t = setInterval(fn, ms);
    timers.add(t);
    return t;
  };

  const one = (i: number): void => {
    if (stopped) return;
    opened++;
    const localAddress = `127.0.1.${1 + (i % 250)}`;
    const socket = connect({ port, host: '127.0.0.1', localAddress });
    live.add(socket);
    socket.on('error', () => undefined);
    let tick: NodeJS.Timeout | undefined;
    socket.on('close', () => {
      live.delete(socket);
      if (tick !== undefined) {
        clearInterval(tick);
        timers.delete(tick);
      }
      // Cut by the sidecar: come back after a short pause, as an attacker would.
      if (!stopped) void sleep(200).then(() => one(i));
    });
    socket.once('connect', () => {
      if (kind === 'headers') {
        socket.write(`GET ${path}?i=${i} HTTP/1.1\r\nhost: a\r\n`);
        let n = 0;
        tick = every(2_000, () => socket.write(`x-slow-${n++}: ${'a'.repeat(8)}\r\n`));
      } else if (kind === 'body') {
        socket.write(
          `POST ${path}?i=${i} HTTP/1.1\r\nhost: a\r\ncontent-type: application/octet-stream\r\n` +
            `content-length: 10000000\r\n\r\n`,
        );
        socket.write(Buffer.alloc(70_000, 0x61));
        tick = every(14_000, () => socket.write('a'));
      } else {
        socket.pause(); // never read: the answer fills the socket buffers and stays there
        socket.write(`GET ${path}?i=${i} HTTP/1.1\r\nhost: a\r\n\r\n`);
      }
    });
  };

  // Opened in small batches so that the connect burst itself is not what is measured.
  void (async () => {
    for (let i = 0; i < count && !stopped; i++) {
      one(i);
      if (i % 20 === 19) await sleep(20);
    }
  })();

  return {
    opened: () => opened,
    stop() {
      stopped = true;
      for (const t of timers) clearInterval(t);
      timers.clear();
      for (const s of live) s.destroy();
      live.clear();
    },
  };
}
