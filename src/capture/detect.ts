/**
 * What the capture runner decides from what it finds in the namespace. PURE: text and flags
 * in, decisions out; src/capture/run.ts does the reading.
 */
import type { IptablesMode, Ipv6Mode } from '../config/capture.js';
import type { Family } from './rules.js';

export type Variant = 'nft' | 'legacy' | 'plain';

/** Rules (`-A` lines) in an `iptables-save` dump: how much a variant is already in use. */
export function countRules(saved: string): number {
  return saved.split('\n').filter((l) => l.startsWith('-A ')).length;
}

/**
 * The iptables variant to use, as Istio's init container chooses: the variant that already
 * holds rules in this namespace (mixing nft and legacy rules in one namespace makes both
 * hard to reason about), else nft, else legacy; `plain` (unsuffixed iptables-restore) only
 * when neither suffixed binary is installed.
 */
export function chooseVariant(
  mode: IptablesMode,
  installed: Readonly<Record<Variant, boolean>>,
  ruleCounts: Readonly<Partial<Record<'nft' | 'legacy', number>>>,
): Variant | { error: string } {
  if (mode !== 'auto') {
    return installed[mode]
      ? mode
      : { error: `--iptables ${mode}: iptables-${mode}-restore is not installed` };
  }
  if (installed.nft && installed.legacy) {
    return (ruleCounts.legacy ?? 0) > (ruleCounts.nft ?? 0) ? 'legacy' : 'nft';
  }
  if (installed.nft) return 'nft';
  if (installed.legacy) return 'legacy';
  if (installed.plain) return 'plain';
  return { error: 'no iptables-restore found on PATH (install the iptables package)' };
}

/** Binary names for one variant and family. */
export function binaries(variant: Variant, family: Family): { restore: string; save: string } {
  const base = family === 'ipv4' ? 'iptables' : 'ip6tables';
  const suffix = variant === 'plain' ? '' : `-${variant}`;
  return { restore: `${base}${suffix}-restore`, save: `${base}${suffix}-save` };
}

export interface Ipv6Addresses {
  /** The kernel has IPv6 (the file exists). */
  readonly enabled: boolean;
  /** A non-loopback interface has a global-scope address: the app is reachable over IPv6. */
  readonly global: boolean;
}

/**
 * Reads `/proc/net/if_inet6` (`addr ifindex prefixlen scope flags ifname` per line; scope 00
 * is global). `undefined` text: the file is absent, IPv6 is off in this kernel.
 */
export function parseIfInet6(text: string | undefined): Ipv6Addresses {
  if (text === undefined) return { enabled: false, global: false };
  const global = text
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .some((f) => f.length >= 6 && f[3] === '00' && f[5] !== 'lo');
  return { enabled: true, global };
}

export type Ipv6Plan =
  | { apply: false; why: string }
  | {
      apply: true;
      /** A failure to apply is fatal (exit 1) when the app is reachable over IPv6. */
      required: boolean;
      /** `false`: ip6tables-restore is missing; fatal when `required`, else skipped. */
      installed: boolean;
    };

export function planIpv6(mode: Ipv6Mode, addrs: Ipv6Addresses, ip6tablesInstalled: boolean): Ipv6Plan {
  if (mode === 'off') return { apply: false, why: '--ipv6 off' };
  if (mode === 'auto' && !addrs.enabled) {
    return { apply: false, why: 'IPv6 is disabled in this network namespace (no /proc/net/if_inet6)' };
  }
  const required = mode === 'on' || addrs.global;
  if (!ip6tablesInstalled && !required) {
    return {
      apply: false,
      why: 'ip6tables-restore is not installed and no interface has a global IPv6 address',
    };
  }
  return { apply: true, required, installed: ip6tablesInstalled };
}
