/**
 * Two network namespaces joined by a veth pair: a "pod" (app, sidecar, capture rules) and a
 * "client". Addresses are from the benchmarking range 198.18.0.0/15 and the IPv6 documentation
 * prefix, inside namespaces this test makes and deletes: no traffic leaves the machine.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const POD_V4 = '198.18.0.2';
export const CLIENT_V4 = '198.18.0.1';
export const POD_V6 = '2001:db8:7477::2';
export const CLIENT_V6 = '2001:db8:7477::1';

export interface Namespaces {
  readonly pod: string;
  readonly client: string;
  readonly ipv6: boolean;
  /** The veth ends, for link-local addresses (`fe80::…%dev`). */
  readonly podDev: string;
  readonly clientDev: string;
  remove(): Promise<void>;
}

export async function sh(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv } = {}) {
  return run(cmd, args, { timeout: 20_000, env: opts.env ?? process.env, encoding: 'utf8' });
}

/** Why the real capture test cannot run here, or undefined when it can. */
export async function cannotRun(): Promise<string | undefined> {
  if (process.platform !== 'linux') return `not Linux (${process.platform})`;
  if (process.getuid?.() !== 0)
    return `not root (uid ${process.getuid?.()}): ip netns and iptables need root`;
  for (const [bin, pkg] of [
    ['ip', 'iproute2'],
    ['iptables-restore', 'iptables'],
    ['setpriv', 'util-linux'],
  ] as const) {
    try {
      await sh('sh', ['-c', `command -v ${bin} || test -x /usr/sbin/${bin} || test -x /sbin/${bin}`]);
    } catch {
      return `${bin} not found (apt-get install ${pkg}; .ci/run installs it)`;
    }
  }
  const probe = `twcap-probe-${process.pid}`;
  try {
    await sh('ip', ['netns', 'add', probe]);
    await sh('ip', ['netns', 'exec', probe, 'iptables', '-t', 'nat', '-L', '-n']);
  } catch (err) {
    return `cannot use network namespaces with iptables here: ${(err as Error).message.split('\n')[0]}`;
  } finally {
    await sh('ip', ['netns', 'del', probe]).catch(() => undefined);
  }
  return undefined;
}

/**
 * `globalV6: false` leaves the veth ends with their link-local IPv6 addresses only (DAD off, so
 * they are usable at once): the pod has IPv6 although it has no global address.
 */
export async function createNamespaces(opts: { tag?: string; globalV6?: boolean } = {}): Promise<Namespaces> {
  const id = `${process.pid}${opts.tag ?? ''}`;
  const pod = `twcap-pod-${id}`;
  const client = `twcap-cli-${id}`;
  const vethPod = `twc${id}p`.slice(-15);
  const vethCli = `twc${id}c`.slice(-15);
  const remove = async (): Promise<void> => {
    // Deleting a namespace deletes the veth end in it, and with it the pair.
    await sh('ip', ['netns', 'del', pod]).catch(() => undefined);
    await sh('ip', ['netns', 'del', client]).catch(() => undefined);
  };
  try {
    await sh('ip', ['netns', 'add', pod]);
    await sh('ip', ['netns', 'add', client]);
    await sh('ip', ['link', 'add', vethPod, 'type', 'veth', 'peer', 'name', vethCli]);
    await sh('ip', ['link', 'set', vethPod, 'netns', pod]);
    await sh('ip', ['link', 'set', vethCli, 'netns', client]);
    for (const [ns, dev, v4, v6] of [
      [pod, vethPod, POD_V4, POD_V6],
      [client, vethCli, CLIENT_V4, CLIENT_V6],
    ] as const) {
      await sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      await sh('ip', ['-n', ns, 'addr', 'add', `${v4}/30`, 'dev', dev]);
      await sh('ip', ['netns', 'exec', ns, 'sysctl', '-qw', `net.ipv6.conf.${dev}.accept_dad=0`]).catch(
        () => undefined,
      );
      await sh('ip', ['-n', ns, 'link', 'set', dev, 'up']);
      if (opts.globalV6 !== false) {
        await sh('ip', ['-n', ns, '-6', 'addr', 'add', `${v6}/64`, 'dev', dev, 'nodad']).catch(
          () => undefined,
        );
      }
    }
    const ipv6 = await sh('ip', ['netns', 'exec', pod, 'ip6tables', '-t', 'nat', '-L', '-n']).then(
      () => true,
      () => false,
    );
    return { pod, client, ipv6, podDev: vethPod, clientDev: vethCli, remove };
  } catch (err) {
    await remove();
    throw err;
  }
}

/** A long-running process inside a namespace; resolves once its stdout printed `ready`. */
export async function startIn(
  ns: string,
  argv: string[],
  opts: { env?: NodeJS.ProcessEnv; readyLine?: RegExp; timeoutMs?: number } = {},
): Promise<{ child: ChildProcess; output: () => string; stop: () => Promise<void> }> {
  const child = spawn('ip', ['netns', 'exec', ns, ...argv], {
    env: opts.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  };
  if (opts.readyLine) {
    const ready = opts.readyLine;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`${argv.join(' ')} not ready in time; output:\n${output}`));
      }, opts.timeoutMs ?? 15_000);
      const check = (): void => {
        if (ready.test(output)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout.on('data', check);
      child.stderr.on('data', check);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${argv.join(' ')} exited ${code}; output:\n${output}`));
      });
    }).catch(async (err: unknown) => {
      await stop();
      throw err;
    });
  }
  return { child, output: () => output, stop };
}

/** The link-local IPv6 address of `dev` in `ns` (waits for it: the kernel adds it on link up). */
export async function linkLocal(ns: string, dev: string): Promise<string> {
  for (let i = 0; i < 50; i++) {
    const { stdout } = await sh('ip', ['-n', ns, '-6', '-o', 'addr', 'show', 'dev', dev, 'scope', 'link']);
    const m = /inet6 (fe80:[0-9a-f:]+)\/64/.exec(stdout);
    if (m && !stdout.includes('tentative')) return m[1]!;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no usable link-local address on ${dev} in ${ns}`);
}
