/**
 * Child processes of the test control plane, and the guarantee that they die with us.
 *
 * Three layers, because no single one covers every way the Node process can end:
 * - stop(): SIGTERM, then SIGKILL after a grace period (the normal path);
 * - 'exit' / SIGINT / SIGTERM / SIGHUP handlers: SIGKILL every child still alive and run the
 *   onProcessEnd hooks (scratch directories), synchronously;
 * - a detached watchdog shell per child that polls our pid and kills the child (and removes its
 *   scratch directory) when we are gone, even after a SIGKILL that runs no handler at all.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync } from 'node:fs';

const live = new Set<ManagedProcess>();
const endHooks = new Set<() => void>();
let handlersInstalled = false;

/** Synchronous: kill every child still alive, then run the registered hooks. */
function processEnding(): void {
  for (const p of live) p.killNow();
  for (const hook of endHooks) {
    try {
      hook();
    } catch {
      /* best effort: the process is ending */
    }
  }
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', processEnding);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      processEnding();
      // Our listener replaced the default "die on signal": when nobody else listens, restore it
      // and re-raise so the process still ends the way the signal asked. ('exit' does not fire
      // then, which is why the cleanup runs here too.)
      if (process.listenerCount(signal) === 1) {
        process.removeListener(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
}

/**
 * Runs `hook` synchronously when the process exits or gets SIGINT/SIGTERM/SIGHUP, after the
 * children are killed. Returns a function that unregisters it.
 */
export function onProcessEnd(hook: () => void): () => void {
  installHandlers();
  endHooks.add(hook);
  return () => endHooks.delete(hook);
}

const WATCHDOG = `
parent=$1; child=$2; scratch=$3
while kill -0 "$parent" 2>/dev/null; do
  kill -0 "$child" 2>/dev/null || exit 0
  sleep 1
done
kill -TERM "$child" 2>/dev/null
i=0
while kill -0 "$child" 2>/dev/null && [ $i -lt 10 ]; do sleep 0.5; i=$((i+1)); done
kill -KILL "$child" 2>/dev/null
[ -n "$scratch" ] && rm -rf -- "$scratch"
exit 0
`;

export interface ManagedProcessOptions {
  name: string;
  bin: string;
  args: string[];
  logPath: string;
  /** Environment of the child; default: ours. */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Removed by the watchdog if the test process dies without cleaning up (e.g. etcd's data dir). */
  scratchDir?: string;
}

export class ManagedProcess {
  readonly name: string;
  readonly logPath: string;
  private readonly child: ChildProcess;
  private exitCode: number | null | undefined;
  private exitSignal: NodeJS.Signals | null = null;
  private spawnError: Error | undefined;
  /** Resolves when the process has exited, however it ended. */
  readonly exited: Promise<void>;

  constructor(opts: ManagedProcessOptions) {
    installHandlers();
    this.name = opts.name;
    this.logPath = opts.logPath;
    const fd = openSync(opts.logPath, 'a');
    try {
      this.child = spawn(opts.bin, opts.args, {
        stdio: ['ignore', fd, fd],
        detached: false,
        ...(opts.env ? { env: opts.env } : {}),
        ...(opts.cwd ? { cwd: opts.cwd } : {}),
      });
    } finally {
      closeSync(fd);
    }
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exitCode = code;
        this.exitSignal = signal;
        live.delete(this);
        resolve();
      });
      this.child.once('error', (err) => {
        // Spawn failures (ENOENT, EACCES) emit 'error' and no 'exit'.
        this.spawnError = err;
        this.exitCode = -1;
        live.delete(this);
        resolve();
      });
    });
    live.add(this);
    if (this.child.pid !== undefined) {
      const watchdog = spawn(
        'sh',
        [
          '-c',
          WATCHDOG,
          'tokenwarden-watchdog',
          String(process.pid),
          String(this.child.pid),
          opts.scratchDir ?? '',
        ],
        { detached: true, stdio: 'ignore' },
      );
      watchdog.on('error', () => undefined);
      watchdog.unref();
    }
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  describeExit(): string {
    if (this.spawnError) return `could not start: ${this.spawnError.message}`;
    if (this.running) return 'running';
    return this.exitSignal ? `killed by ${this.exitSignal}` : `exited with code ${String(this.exitCode)}`;
  }

  killNow(): void {
    if (this.running) this.child.kill('SIGKILL');
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), graceMs);
    });
    const late = await Promise.race([this.exited.then(() => false), timedOut]);
    clearTimeout(timer);
    if (late) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }

  /** The last `lines` lines of the process's log, for error messages. */
  tail(lines = 40): string {
    let text: string;
    try {
      text = readFileSync(this.logPath, 'utf8');
    } catch {
      return '(no log)';
    }
    return text
      .split('\n')
      .slice(-lines - 1)
      .join('\n');
  }
}

/** Best-effort synchronous removal, for 'exit' handlers. */
export function removeNow(dir: string): void {
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch {
    /* the watchdog or the OS will do it */
  }
}
