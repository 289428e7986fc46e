/**
 * `spec.trustedProxies`: CIDRs whose client-set forwarding headers (X-Forwarded-For, Forwarded,
 * X-Real-IP, X-Forwarded-Host) the sidecar keeps. Parsing is strict (the address must be the
 * network address of its prefix, so `10.0.0.1/8` is refused rather than read as `10.0.0.0/8`);
 * membership uses node's BlockList, which also matches IPv4-mapped IPv6 peers (`::ffff:10.1.2.3`).
 */
import { BlockList, isIP } from 'node:net';
import type { Cidr } from './types.js';

export type ParsedCidr = { ok: true; cidr: Cidr } | { ok: false; message: string };

const PREFIX = /^(0|[1-9][0-9]{0,2})$/;

export function parseCidr(text: string): ParsedCidr {
  const slash = text.indexOf('/');
  const address = slash === -1 ? text : text.slice(0, slash);
  const family = isIP(address);
  if (family === 0)
    return { ok: false, message: 'must be an IPv4 or IPv6 CIDR such as 10.0.0.0/8 or fd00::/8' };
  const max = family === 4 ? 32 : 128;
  const prefixText = slash === -1 ? String(max) : text.slice(slash + 1);
  const prefix = PREFIX.test(prefixText) ? Number(prefixText) : NaN;
  if (!(prefix >= 0 && prefix <= max)) return { ok: false, message: `prefix length must be 0 to ${max}` };
  const cidr: Cidr = { family: family as 4 | 6, address, prefix };
  if (!isNetworkAddress(cidr)) {
    return { ok: false, message: `host bits are set: write the network address of the /${prefix}` };
  }
  return { ok: true, cidr };
}

/** True when no bit beyond the prefix is set: the range is exactly what is written. */
function isNetworkAddress(c: Cidr): boolean {
  return networkAddress(c.address, c.family, c.prefix) === canonical(c.address, c.family);
}

function bytes(address: string, family: 4 | 6): number[] {
  if (family === 4) return address.split('.').map(Number);
  // Expand `::` and any embedded IPv4 tail into 16 bytes.
  let text = address;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4 !== null) {
    const [a, b, c, d] = (v4[1] as string).split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return groups.flatMap((g) => {
    const n = parseInt(g, 16);
    return [n >> 8, n & 0xff];
  });
}

function canonical(address: string, family: 4 | 6): string {
  return bytes(address, family).join('.');
}

function networkAddress(address: string, family: 4 | 6, prefix: number): string {
  return bytes(address, family)
    .map((b, i) => {
      const keep = Math.max(0, Math.min(8, prefix - i * 8));
      return b & ((0xff << (8 - keep)) & 0xff);
    })
    .join('.');
}

/** The compiled form: one BlockList of every trusted range. */
export class TrustedProxies {
  readonly #list = new BlockList();
  readonly size: number;

  constructor(cidrs: readonly Cidr[]) {
    for (const c of cidrs) this.#list.addSubnet(c.address, c.prefix, c.family === 4 ? 'ipv4' : 'ipv6');
    this.size = cidrs.length;
  }

  /** Is the peer at `address` (as node reports it: `127.0.0.1`, `::1`, `::ffff:10.0.0.1`) trusted? */
  has(address: string | undefined): boolean {
    if (address === undefined || this.size === 0) return false;
    const family = isIP(address);
    if (family === 0) return false;
    return this.#list.check(address, family === 4 ? 'ipv4' : 'ipv6');
  }
}
