/**
 * `tokenwarden capture` runner: applies the rules of src/capture/rules.ts with
 * iptables-restore / ip6tables-restore and checks with iptables-save that every rule is in
 * place. Invariant: it returns 0 only when every family it applies is fully captured; any
 * failure returns 1 with the reason logged, so the init container fails and the pod does not
 * start (a half-captured pod would let clients reach the app around the sidecar).
 *
 * All I/O goes through `CaptureDeps` (child processes without a shell, PATH lookups, one
 * /proc read), so the decisions are testable with a scripted `exec` and the real thing runs
 * in network namespaces in test/capture/.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { CaptureConfig } from '../config/capture.js';
import type { Logger } from '../log/logger.js';
import { binaries, chooseVariant, countRules, hasIpv6, planIpv6, type Variant } from './detect.js';
import { captureRules, missingRules, type CaptureOptions, type Family } from './rules.js';

export interface ExecResult {
  /** Exit code; -1 when the binary could not be started (the error is in `stderr`). */
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CaptureDeps {
  exec(command: string, args: readonly string[], input?: string): Promise<ExecResult>;
  installed(binary: string): boolean;
  /** `/proc/net/if_inet6`, or undefined when absent. */
  readIfInet6(): string | undefined;
  readonly log: Pick<Logger, 'info' | 'warn' | 'error'>;
}

class CaptureFailed extends Error {}

export async function runCapture(config: CaptureConfig, deps: CaptureDeps): Promise<number> {
  const options: CaptureOptions = {
    targetPorts: config.targetPorts,
    proxyPort: config.proxyPort,
    proxyUid: config.proxyUid,
  };
  try {
    const variant = await pickVariant(config, deps);
    await applyFamily(options, 'ipv4', variant, deps);

    const v6 = planIpv6(config.ipv6, hasIpv6(deps.readIfInet6()), installedFor(variant, 'ipv6', deps));
    if (!v6.apply) {
      deps.log.info({ family: 'ipv6', reason: v6.why }, 'capture skipped');
    } else if (!v6.installed) {
      throw new CaptureFailed(
        `${binaries(variant, 'ipv6').restore} is not installed but the pod has IPv6: IPv6 traffic would reach the app uncaptured (a platform that does not want IPv6 capture sets --ipv6 off)`,
      );
    } else {
      await applyFamily(options, 'ipv6', variant, deps);
    }
    return 0;
  } catch (err) {
    if (!(err instanceof CaptureFailed)) throw err;
    deps.log.error({ error: err.message }, 'capture failed: the pod must not start');
    return 1;
  }
}

async function pickVariant(config: CaptureConfig, deps: CaptureDeps): Promise<Variant> {
  const installed = {
    nft: deps.installed('iptables-nft-restore'),
    legacy: deps.installed('iptables-legacy-restore'),
    plain: deps.installed('iptables-restore'),
  };
  const counts: { nft?: number; legacy?: number } = {};
  if (config.iptables === 'auto' && installed.nft && installed.legacy) {
    for (const v of ['nft', 'legacy'] as const) {
      for (const family of ['ipv4', 'ipv6'] as const) {
        const { save } = binaries(v, family);
        if (!deps.installed(save)) continue;
        const r = await deps.exec(save, []);
        counts[v] = (counts[v] ?? 0) + (r.code === 0 ? countRules(r.stdout) : 0);
      }
    }
  }
  const chosen = chooseVariant(config.iptables, installed, counts);
  if (typeof chosen !== 'string') throw new CaptureFailed(chosen.error);
  deps.log.info({ variant: chosen, mode: config.iptables, ruleCounts: counts }, 'iptables variant chosen');
  return chosen;
}

function installedFor(variant: Variant, family: Family, deps: CaptureDeps): boolean {
  const { restore, save } = binaries(variant, family);
  return deps.installed(restore) && deps.installed(save);
}

async function applyFamily(
  options: CaptureOptions,
  family: Family,
  variant: Variant,
  deps: CaptureDeps,
): Promise<void> {
  const { restore, save } = binaries(variant, family);
  const before = await deps.exec(save, ['-t', 'nat']);
  // A save that fails here usually means no nat table yet: the restore below creates it.
  const rules = captureRules(options, family, before.code === 0 ? before.stdout : '');
  // --noflush: keep other tools' rules; our chains are flushed by their declaration.
  const applied = await deps.exec(restore, ['--noflush'], rules);
  if (applied.code !== 0) {
    throw new CaptureFailed(
      `${restore} failed (exit ${applied.code}): ${applied.stderr.trim() || 'no output'}`,
    );
  }
  const after = await deps.exec(save, ['-t', 'nat']);
  if (after.code !== 0) {
    throw new CaptureFailed(`${save} failed after applying (exit ${after.code}): ${after.stderr.trim()}`);
  }
  const missing = missingRules(options, family, after.stdout);
  if (missing.length > 0) {
    throw new CaptureFailed(`${family} rules missing after ${restore}: ${missing.join(' | ')}`);
  }
  deps.log.info(
    {
      family,
      variant,
      targetPorts: options.targetPorts,
      proxyPort: options.proxyPort,
      proxyUid: options.proxyUid,
    },
    'capture applied',
  );
}

/** The real thing: child processes (no shell), PATH lookups, /proc. */
export function systemDeps(log: CaptureDeps['log'], env: NodeJS.ProcessEnv = process.env): CaptureDeps {
  const path = (env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter);
  // iptables lives in sbin, which a non-login PATH may lack.
  for (const dir of ['/usr/sbin', '/sbin']) if (!path.includes(dir)) path.push(dir);
  const resolve = (binary: string): string | undefined => {
    for (const dir of path) {
      const candidate = join(dir, binary);
      try {
        accessSync(candidate, constants.X_OK);
        return candidate;
      } catch {
        // not here
      }
    }
    return undefined;
  };
  return {
    log,
    installed: (binary) => resolve(binary) !== undefined,
    readIfInet6: () => {
      try {
        return readFileSync('/proc/net/if_inet6', 'utf8');
      } catch {
        return undefined;
      }
    },
    exec: (command, args, input) =>
      new Promise((done) => {
        const file = resolve(command) ?? command;
        const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], shell: false });
        let stdout = '';
        let stderr = '';
        child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
        child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
        child.on('error', (err) => done({ code: -1, stdout, stderr: `${command}: ${err.message}` }));
        child.on('close', (code, signal) => done({ code: code ?? (signal ? 128 : -1), stdout, stderr }));
        child.stdin.on('error', () => undefined); // a binary that exits early closes stdin
        child.stdin.end(input ?? '');
      }),
  };
}
