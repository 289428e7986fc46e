/**
 * The real sidecar: `node dist/cmd/tokenwarden.js sidecar` as a child process, listening on
 * 127.0.0.1 port 0 (the ports are read from its `sidecar started` log line, so there is no
 * free-port race), its stdout and stderr captured in memory and in the run's ledger.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import {
  appendFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { logFile } from './ledger.js';
import { waitFor } from '../../support/wait.js';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const CLI = join(REPO_ROOT, 'dist/cmd/tokenwarden.js');

let staleChecked = false;

export function assertBuilt(): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run 'npm run build' before the black-box tests`);
  if (staleChecked) return;
  staleChecked = true;
  const built = statSync(CLI).mtimeMs;
  const newer = ['src', 'cmd'].flatMap((d) => newerThan(join(REPO_ROOT, d), built)).slice(0, 3);
  if (newer.length > 0)
    console.warn(`dist/ is older than ${newer.join(', ')}…: run 'npm run build' to test the current code`);
}

function newerThan(dir: string, mtimeMs: number): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...newerThan(path, mtimeMs));
    else if (entry.name.endsWith('.ts') && statSync(path).mtimeMs > mtimeMs)
      out.push(path.slice(REPO_ROOT.length + 1));
  }
  return out;
}

export interface SidecarOptions {
  /** Standalone: the policy file's content. Leave out for in-cluster mode (args hold --control-plane). */
  policyYaml?: string;
  /** Extra environment (in-cluster: TOKENWARDEN_CA_PEM, POD_NAME…). */
  env?: Record<string, string>;
  upstream: string;
  /** Extra command-line flags. */
  args?: string[];
  /** Name for the log file in the ledger. */
  name?: string;
  /** Flags for node itself, before the script (e.g. a `--import` preload). */
  nodeArgs?: string[];
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Sidecar {
  readonly proxyUrl: string;
  readonly proxyPort: number;
  readonly adminUrl: string;
  readonly policyFile: string;
  readonly process: ChildProcess;
  /** stdout and stderr so far, in arrival order. */
  logs(): string;
  stdout(): string;
  stderr(): string;
  /** stdout lines that are JSON log records. */
  records(): Record<string, unknown>[];
  /** Replaces the policy file the way editors save: write a sibling, then rename over it. */
  writePolicy(yaml: string): void;
  readonly exited: Promise<Exit>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with how the process ended. */
  stop(graceMs?: number): Promise<Exit>;
}

const running = new Set<Sidecar>();

let seq = 0;

export function writeAtomically(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}-${seq++}`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

export async function startSidecar(opts: SidecarOptions): Promise<Sidecar> {
  assertBuilt();
  const dir = mkdtempSync(join(tmpdir(), 'tokenwarden-bb-'));
  const policyFile = join(dir, 'policy.yaml');
  if (opts.policyYaml !== undefined) writeFileSync(policyFile, opts.policyYaml);
  const ledger = logFile(`${opts.name ?? 'sidecar'}-${seq++}`);
  const child = spawn(
    process.execPath,
    [
      ...(opts.nodeArgs ?? []),
      CLI,
      'sidecar',
      ...(opts.policyYaml !== undefined ? ['--policy', policyFile] : []),
      '--upstream',
      opts.upstream,
      '--listen',
      '127.0.0.1:0',
      '--admin-listen',
      '127.0.0.1:0',
      ...(opts.args ?? []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir, env: { ...process.env, ...(opts.env ?? {}) } },
  );
  let all = '';
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (s: string) => {
    out += s;
    all += s;
    appendFileSync(ledger, s);
  });
  child.stderr.on('data', (s: string) => {
    err += s;
    all += s;
    appendFileSync(ledger, s);
  });
  const exited = new Promise<Exit>((resolveExit) =>
    child.once('exit', (code, signal) => resolveExit({ code, signal })),
  );
  let exitedYet: Exit | undefined;
  void exited.then((e) => (exitedYet = e));

  const records = (): Record<string, unknown>[] => {
    const list: Record<string, unknown>[] = [];
    for (const line of out.split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        list.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // a line still being written
      }
    }
    return list;
  };

  const stop = async (graceMs = 15_000): Promise<Exit> => {
    running.delete(sidecar);
    if (exitedYet === undefined) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
    return exited;
  };

  let started: { listen: { port: number }; admin: { port: number } };
  try {
    ({ value: started } = await waitFor(
      'the sidecar to log "sidecar started"',
      () => {
        if (exitedYet !== undefined)
          throw new Error(`sidecar exited early (${JSON.stringify(exitedYet)}): ${all}`);
        return records().find((r) => r.msg === 'sidecar started') as typeof started | undefined;
      },
      15_000,
      25,
    ));
  } catch (e) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`${(e as Error).message}\n--- sidecar output ---\n${all}`);
  }

  const sidecar: Sidecar = {
    proxyUrl: `http://127.0.0.1:${started.listen.port}`,
    proxyPort: started.listen.port,
    adminUrl: `http://127.0.0.1:${started.admin.port}`,
    policyFile,
    process: child,
    logs: () => all,
    stdout: () => out,
    stderr: () => err,
    records,
    writePolicy: (yaml) => writeAtomically(policyFile, yaml),
    exited,
    stop,
  };
  running.add(sidecar);
  return sidecar;
}

/** For afterAll: stops every sidecar this file started and has not stopped. */
export async function stopAllSidecars(): Promise<void> {
  await Promise.all([...running].map((s) => s.stop(5_000)));
}

/** Waits until /readyz answers 200. */
export async function waitReady(sidecar: Sidecar, timeoutMs = 10_000): Promise<number> {
  const { elapsedMs } = await waitFor(
    '/readyz to answer 200',
    async () => (await fetch(`${sidecar.adminUrl}/readyz`)).status === 200,
    timeoutMs,
    25,
  );
  return elapsedMs;
}
