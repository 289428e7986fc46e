/**
 * Child processes of the benchmark: started pinned to a CPU, output to a log file, every one
 * tracked so that all are killed on exit, whatever the exit path.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Started {
  name: string;
  child: ChildProcess;
  pid: number;
  logFile: string;
}

const running = new Set<ChildProcess>();

/** Synchronous so it can run from process.on('exit'). */
export function killAll(): void {
  for (const child of running) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  running.clear();
}

/** Runs `command args` pinned to `cpu` via taskset (which execs, so the pid is the command's). */
export function startPinned(
  name: string,
  cpu: number,
  command: string,
  args: readonly string[],
  logFile: string,
  env: NodeJS.ProcessEnv = process.env,
): Started {
  const fd = openSync(logFile, 'a');
  const child = spawn('taskset', ['-c', String(cpu), command, ...args], {
    stdio: ['ignore', fd, fd],
    env,
  });
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  running.add(child);
  child.once('exit', () => running.delete(child));
  return { name, child, pid: child.pid, logFile };
}

export async function stop(started: Started, graceMs = 3000): Promise<void> {
  const { child } = started;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

export function exited(started: Started): boolean {
  return started.child.exitCode !== null || started.child.signalCode !== null;
}

export function logTail(started: Started, lines = 15): string {
  try {
    return readFileSync(started.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** A port that was free a moment ago on 127.0.0.1 (the usual small race is acceptable here). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port from the kernel');
  return address.port;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Waits (bounded) until the port accepts connections; fails early if the process exits. */
export async function waitForPort(started: Started, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited(started)) throw new Error(`${started.name} exited during start-up`);
    if (await canConnect(port)) return;
    await sleep(100);
  }
  throw new Error(`${started.name} did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`);
}
