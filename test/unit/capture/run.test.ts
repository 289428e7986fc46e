/**
 * The runner's decisions with a scripted `exec` (what the binaries answer is data here; the real
 * binaries run in network namespaces in test/capture/). The script keeps a nat table per
 * binary family: restore appends the -A lines it was given, save prints them.
 */
import { describe, expect, it } from 'vitest';
import { parseCaptureArgs, type CaptureConfig } from '../../../src/config/capture.js';
import { runCapture, type CaptureDeps, type ExecResult } from '../../../src/capture/run.js';

interface Script {
  installed?: string[];
  ifInet6?: string;
  /** restore binaries that fail (exit 2). */
  failing?: string[];
  /** restore binaries that exit 0 but install nothing (a broken kernel module). */
  silent?: string[];
}

const ALL = [
  'iptables-nft',
  'iptables-legacy',
  'ip6tables-nft',
  'ip6tables-legacy',
  'iptables',
  'ip6tables',
].flatMap((b) => [`${b}-restore`, `${b}-save`]);
const GLOBAL_V6 = 'fd000000000000000000000000000002 02 40 00 80     eth0\n';
const LINK_LOCAL_V6 = 'fe800000000000000c2d5bfffe1a2b3c 02 40 20 80     eth0\n';

function scripted(script: Script) {
  const calls: string[] = [];
  const logs: { level: string; msg: string }[] = [];
  const tables = new Map<string, string[]>();
  const installed = new Set(script.installed ?? ALL);
  const exec = (command: string, args: readonly string[], input?: string): Promise<ExecResult> => {
    calls.push([command, ...args].join(' '));
    const table = command.replace(/-(restore|save)$/, '');
    const rules = tables.get(table) ?? [];
    if (command.endsWith('-save'))
      return Promise.resolve({ code: 0, stdout: `*nat\n${rules.join('\n')}\nCOMMIT\n`, stderr: '' });
    if (script.failing?.includes(command))
      return Promise.resolve({ code: 2, stdout: '', stderr: `${command}: line 2 failed` });
    if (!script.silent?.includes(command)) {
      tables.set(table, [...rules, ...(input ?? '').split('\n').filter((l) => l.startsWith('-A '))]);
    }
    return Promise.resolve({ code: 0, stdout: '', stderr: '' });
  };
  const log = (level: string) => (_obj: unknown, msg?: string) => void logs.push({ level, msg: msg ?? '' });
  const deps: CaptureDeps = {
    exec,
    installed: (b) => installed.has(b),
    readIfInet6: () => script.ifInet6,
    log: { info: log('info'), warn: log('warn'), error: log('error') },
  };
  return { deps, calls, logs };
}

function config(...extra: string[]): CaptureConfig {
  const parsed = parseCaptureArgs(['--target-port', '8080', ...extra]);
  if (parsed.help) throw new Error('unexpected help');
  return parsed.config;
}

describe('runCapture', () => {
  it('applies IPv4 and IPv6 with --noflush and checks the result', async () => {
    const { deps, calls } = scripted({ ifInet6: GLOBAL_V6 });
    expect(await runCapture(config(), deps)).toBe(0);
    expect(calls).toContain('iptables-nft-restore --noflush');
    expect(calls).toContain('ip6tables-nft-restore --noflush');
    expect(calls.filter((c) => c === 'ip6tables-nft-save -t nat')).toHaveLength(2);
  });

  it('exits 1 when iptables-restore fails', async () => {
    const { deps, logs } = scripted({ failing: ['iptables-nft-restore'] });
    expect(await runCapture(config(), deps)).toBe(1);
    expect(logs.at(-1)).toEqual({ level: 'error', msg: 'capture failed: the pod must not start' });
  });

  it('exits 1 when the restore succeeds but the rules are not there afterwards', async () => {
    const { deps } = scripted({ silent: ['iptables-nft-restore'] });
    expect(await runCapture(config(), deps)).toBe(1);
  });

  it('exits 1 when ip6tables fails and the pod has a global IPv6 address', async () => {
    const { deps } = scripted({ ifInet6: GLOBAL_V6, failing: ['ip6tables-nft-restore'] });
    expect(await runCapture(config(), deps)).toBe(1);
  });

  it('exits 1 when ip6tables fails with link-local IPv6 only (an app bound to :: answers there)', async () => {
    const { deps, logs } = scripted({ ifInet6: LINK_LOCAL_V6, failing: ['ip6tables-nft-restore'] });
    expect(await runCapture(config(), deps)).toBe(1);
    expect(logs.at(-1)).toEqual({ level: 'error', msg: 'capture failed: the pod must not start' });
  });

  it('exits 1 when ip6tables is missing and the pod has link-local IPv6 only', async () => {
    const installed = ALL.filter((b) => !b.startsWith('ip6tables'));
    const { deps } = scripted({ installed, ifInet6: LINK_LOCAL_V6 });
    expect(await runCapture(config(), deps)).toBe(1);
  });

  it("--ipv6 off (the platform's choice) skips a failing ip6tables and exits 0", async () => {
    const { deps, calls } = scripted({ ifInet6: GLOBAL_V6, failing: ['ip6tables-nft-restore'] });
    expect(await runCapture(config('--ipv6', 'off'), deps)).toBe(0);
    expect(calls.some((c) => c.startsWith('ip6tables') && c.includes('-restore'))).toBe(false);
  });

  it('exits 1 when ip6tables is missing and the pod has a global IPv6 address', async () => {
    const installed = ALL.filter((b) => !b.startsWith('ip6tables'));
    const { deps } = scripted({ installed, ifInet6: GLOBAL_V6 });
    expect(await runCapture(config(), deps)).toBe(1);
  });

  it('skips IPv6 when the kernel has none, without calling ip6tables-restore', async () => {
    const { deps, calls } = scripted({ ifInet6: undefined });
    expect(await runCapture(config(), deps)).toBe(0);
    expect(calls.some((c) => c.startsWith('ip6tables') && c.includes('-restore'))).toBe(false);
  });

  it('exits 1 when no iptables is installed', async () => {
    const { deps } = scripted({ installed: [] });
    expect(await runCapture(config(), deps)).toBe(1);
  });

  it('running twice leaves one copy of each jump', async () => {
    const { deps, calls } = scripted({ ifInet6: undefined });
    expect(await runCapture(config(), deps)).toBe(0);
    expect(await runCapture(config(), deps)).toBe(0);
    const save = await deps.exec('iptables-nft-save', ['-t', 'nat']);
    expect(
      save.stdout.split('\n').filter((l) => l === '-A PREROUTING -p tcp -j TOKENWARDEN_INBOUND'),
    ).toHaveLength(1);
    expect(calls.filter((c) => c === 'iptables-nft-restore --noflush')).toHaveLength(2);
  });

  it('follows the variant that already holds rules', async () => {
    const { deps, calls } = scripted({ ifInet6: undefined });
    await deps.exec('iptables-legacy-restore', ['--noflush'], '-A PREROUTING -j KUBE\n-A OUTPUT -j KUBE\n');
    expect(await runCapture(config(), deps)).toBe(0);
    expect(calls).toContain('iptables-legacy-restore --noflush');
    expect(calls).not.toContain('iptables-nft-restore --noflush');
  });
});
