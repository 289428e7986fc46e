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

/**
 * Whether this network namespace has IPv6 at all: `/proc/net/if_inet6` exists (its text
 * `undefined`: absent, the kernel was booted without IPv6). Any address counts, link-local
 * included: an app bound to `::` answers on `fe80::…%eth0` to a neighbour on the pod network
 * even when the pod has no global IPv6 address, so IPv6 must be captured whenever it exists.
 */
export function hasIpv6(ifInet6: string | undefined): boolean {
  return ifInet6 !== undefined;
}

export type Ipv6Plan =
  | { apply: false; why: string }
  /** Apply, and any failure (ip6tables missing, restore failing, a rule missing) is fatal. */
  | { apply: true; installed: boolean };

/**
 * `off` is the platform's explicit choice (an injection setting, never the pod's); otherwise
 * IPv6 is covered whenever the namespace has it, and `on` requires it even when it seems absent.
 * There is no "try and warn": a family that exists and is not captured is a way around the
 * sidecar, so the init container fails and the pod does not start.
 */
export function planIpv6(mode: Ipv6Mode, ipv6: boolean, ip6tablesInstalled: boolean): Ipv6Plan {
  if (mode === 'off') return { apply: false, why: '--ipv6 off (IPv6 capture disabled by the platform)' };
  if (mode === 'auto' && !ipv6) {
    return { apply: false, why: 'IPv6 is disabled in this network namespace (no /proc/net/if_inet6)' };
  }
  return { apply: true, installed: ip6tablesInstalled };
}
