/**
 * The systems under test. Each is started on loopback, checked before it is measured (valid
 * tokens pass, a forged signature and a missing token do not), and described by the one
 * process whose CPU time and RSS are measured.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { TargetName } from './config.js';
import { haproxyConfig } from './haproxy.js';
import { tamper } from './material.js';
import type { Material } from './material.js';
import { exited, freePort, logTail, startPinned, stop, waitForPort } from './processes.js';
import type { Started } from './processes.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const SIDECAR_ENTRY = join(REPO, 'dist/cmd/tokenwarden.js');
const BENCH_DIST = fileURLToPath(new URL('./', import.meta.url));

export const DESCRIPTIONS: Record<TargetName, string> = {
  direct: 'app direct (node:http)',
  passthrough: 'Node pass-through (no auth)',
  haproxy: 'HAProxy 2.6 jwt_verify',
  'haproxy-noauth': 'HAProxy 2.6 (no auth)',
  sidecar: 'Tokenwarden sidecar',
};

export interface Target {
  name: TargetName;
  port: number;
  /** The process whose CPU time and RSS are reported. */
  measured: Started;
  authenticates: boolean;
  /** The sidecar's admin listener (/metrics), where it has one. */
  adminPort?: number;
}

export type TargetStart = { ok: true; target: Target } | { ok: false; name: TargetName; status: string };

export interface StartContext {
  dir: string;
  material: Material;
  appPort: number;
  proxyCpu: number;
  timeoutMs: number;
  /** Extra node flags, the same for both Node proxies so the floor stays comparable. */
  nodeFlags: readonly string[];
}

const NODE_ENV = { ...process.env, NODE_ENV: 'production' };

export async function startApp(dir: string, cpu: number, timeoutMs: number): Promise<Target> {
  const port = await freePort();
  const app = startPinned(
    'app',
    cpu,
    process.execPath,
    [join(BENCH_DIST, 'app.js'), String(port)],
    join(dir, 'app.log'),
    NODE_ENV,
  );
  await waitForPort(app, port, timeoutMs);
  return { name: 'direct', port, measured: app, authenticates: false };
}

async function launch(name: TargetName, ctx: StartContext): Promise<Target | string> {
  const port = await freePort();
  const log = join(ctx.dir, `${name}.log`);
  const upstream = `http://127.0.0.1:${ctx.appPort}`;
  switch (name) {
    case 'direct':
      throw new Error('the app is started by startApp');
    case 'passthrough': {
      const args = [...ctx.nodeFlags, join(BENCH_DIST, 'passthrough.js'), String(port), upstream];
      return {
        name,
        port,
        measured: startPinned(name, ctx.proxyCpu, process.execPath, args, log, NODE_ENV),
        authenticates: false,
      };
    }
    case 'haproxy':
    case 'haproxy-noauth': {
      const config = join(ctx.dir, `${name}.cfg`);
      const { RS256: rs256Pem, ES256: es256Pem } = ctx.material.publicKeyPems;
      const auth = name === 'haproxy';
      writeFileSync(
        config,
        haproxyConfig({ listenPort: port, appPort: ctx.appPort, rs256Pem, es256Pem, auth }),
      );
      try {
        execFileSync('haproxy', ['-c', '-q', '-f', config], { stdio: 'pipe' });
      } catch (error) {
        const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim() ?? String(error);
        return `config rejected: ${stderr.split('\n')[0]}`;
      }
      // -db: foreground, no master process, so the pid is the one worker that does the work.
      return {
        name,
        port,
        measured: startPinned(name, ctx.proxyCpu, 'haproxy', ['-db', '-f', config], log),
        authenticates: auth,
      };
    }
    case 'sidecar': {
      if (!existsSync(SIDECAR_ENTRY)) return 'not built';
      const adminPort = await freePort();
      const args = [
        ...ctx.nodeFlags,
        SIDECAR_ENTRY,
        'sidecar',
        '--policy',
        ctx.material.policyFile,
        '--upstream',
        upstream,
        '--listen',
        `127.0.0.1:${port}`,
        '--admin-listen',
        `127.0.0.1:${adminPort}`,
      ];
      return {
        name,
        port,
        measured: startPinned(name, ctx.proxyCpu, process.execPath, args, log, NODE_ENV),
        authenticates: true,
        adminPort,
      };
    }
  }
}

async function status(port: number, token: string | undefined): Promise<number> {
  const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
  const response = await fetch(`http://127.0.0.1:${port}/`, { headers, signal: AbortSignal.timeout(5000) });
  await response.arrayBuffer();
  return response.status;
}

/** Valid tokens pass; for auth targets a forged signature and a missing token are refused. */
async function preflight(target: Target, material: Material): Promise<string | undefined> {
  for (const [alg, token] of Object.entries(material.sampleTokens)) {
    const ok = await status(target.port, token);
    if (ok !== 200) return `valid ${alg} token got ${ok}`;
    if (!target.authenticates) continue;
    const forged = await status(target.port, tamper(token));
    if (forged < 400) return `forged ${alg} token got ${forged}`;
  }
  if (target.authenticates) {
    const missing = await status(target.port, undefined);
    if (missing < 400) return `request without token got ${missing}`;
  }
  return undefined;
}

/** Starts and checks one target; a target that cannot run becomes a status, never a crash. */
export async function startTarget(name: TargetName, ctx: StartContext): Promise<TargetStart> {
  const launched = await launch(name, ctx);
  if (typeof launched === 'string') return { ok: false, name, status: launched };
  const target = launched;
  const deadline = Date.now() + ctx.timeoutMs;
  let problem: string | undefined;
  try {
    await waitForPort(target.measured, target.port, ctx.timeoutMs);
    // Bounded retries: a sidecar may answer 503 until its policy is loaded.
    do {
      problem = await preflight(target, ctx.material).catch((e: unknown) => String(e));
      if (problem === undefined) return { ok: true, target };
      await sleep(250);
    } while (Date.now() < deadline && !exited(target.measured));
  } catch (error) {
    problem = error instanceof Error ? error.message : String(error);
  }
  const tail = logTail(target.measured, 5).replace(/\s+/g, ' ').slice(0, 300);
  await stop(target.measured);
  return { ok: false, name, status: `failed: ${problem ?? 'unknown'}${tail ? ` (log: ${tail})` : ''}` };
}
