/**
 * Real `redis-server` / `redis-sentinel` processes for the shared reuse store's tests and bench:
 * each on a free loopback port, in its own temp directory, stopped (and the directory removed)
 * by `stop()`. Standalone (optionally with a password), a Sentinel in front of one, and a
 * 3-master Cluster made with `redis-cli --cluster create`.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../support/net.js';
import { until } from '../../support/wait.js';

/** bench/reuse.ts starts its stores through this module. */
export { freePort } from '../../support/net.js';

export interface RedisProcess {
  readonly port: number;
  readonly address: string;
  cli(...args: string[]): string;
  stop(): Promise<void>;
}

function stopProcess(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => p.kill('SIGKILL'), 5000);
    p.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    p.kill('SIGTERM');
  });
}

function cliFor(port: number, password?: string): (...args: string[]) => string {
  const auth = password === undefined ? [] : ['--no-auth-warning', '-a', password];
  return (...args) =>
    execFileSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...auth, ...args], {
      encoding: 'utf8',
      timeout: 10_000,
    }).trim();
}

export interface RedisOptions {
  password?: string;
  /** Further config lines (`cluster-enabled yes`, …). */
  config?: string[];
  /** Keep the port of a stopped server: start it again on the same one. */
  port?: number;
}

export async function startRedis(opts: RedisOptions = {}): Promise<RedisProcess> {
  const port = opts.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'tw-redis-'));
  const lines = [
    `port ${port}`,
    'bind 127.0.0.1',
    `dir ${dir}`,
    'save ""',
    'appendonly no',
    ...(opts.password !== undefined ? [`requirepass ${opts.password}`] : []),
    ...(opts.config ?? []),
  ];
  writeFileSync(join(dir, 'redis.conf'), `${lines.join('\n')}\n`);
  const proc = spawn('redis-server', [join(dir, 'redis.conf')], { stdio: 'ignore' });
  const cli = cliFor(port, opts.password);
  await until(`redis-server on ${port}`, () => cli('PING') === 'PONG', 15_000, 50);
  return {
    port,
    address: `127.0.0.1:${port}`,
    cli,
    async stop() {
      await stopProcess(proc);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A sentinel watching `master` (named `mymaster`), quorum 1. */
export async function startSentinel(master: RedisProcess): Promise<RedisProcess> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'tw-sentinel-'));
  const conf = join(dir, 'sentinel.conf');
  writeFileSync(
    conf,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor mymaster 127.0.0.1 ${master.port} 1`,
      '',
    ].join('\n'),
  );
  const proc = spawn('redis-sentinel', [conf], { stdio: 'ignore' });
  const cli = cliFor(port);
  await until(
    `redis-sentinel on ${port}`,
    () => cli('SENTINEL', 'get-master-addr-by-name', 'mymaster').includes(String(master.port)),
    15_000,
    50,
  );
  return {
    port,
    address: `127.0.0.1:${port}`,
    cli,
    async stop() {
      await stopProcess(proc);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Three masters, no replicas, every slot assigned; resolves once `cluster_state:ok`. */
export async function startCluster(): Promise<RedisProcess[]> {
  const nodes: RedisProcess[] = [];
  for (let i = 0; i < 3; i++) {
    nodes.push(
      await startRedis({
        config: ['cluster-enabled yes', 'cluster-config-file nodes.conf', 'cluster-node-timeout 2000'],
      }),
    );
  }
  execFileSync('redis-cli', ['--cluster', 'create', ...nodes.map((n) => n.address), '--cluster-yes'], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  for (const n of nodes)
    await until('cluster_state:ok', () => n.cli('CLUSTER', 'INFO').includes('cluster_state:ok'), 15_000, 50);
  return nodes;
}
