import { describe, expect, it } from 'vitest';
import { binaries, chooseVariant, countRules, hasIpv6, planIpv6 } from '../../../src/capture/detect.js';

const all = { nft: true, legacy: true, plain: true };

describe('chooseVariant', () => {
  it.each([
    {
      name: 'auto picks nft in a fresh namespace',
      mode: 'auto',
      installed: all,
      counts: { nft: 0, legacy: 0 },
      want: 'nft',
    },
    {
      name: 'auto follows legacy rules already there',
      mode: 'auto',
      installed: all,
      counts: { nft: 1, legacy: 4 },
      want: 'legacy',
    },
    {
      name: 'auto keeps nft on a tie',
      mode: 'auto',
      installed: all,
      counts: { nft: 3, legacy: 3 },
      want: 'nft',
    },
    {
      name: 'auto with only legacy installed',
      mode: 'auto',
      installed: { nft: false, legacy: true, plain: true },
      counts: {},
      want: 'legacy',
    },
    {
      name: 'auto with only unsuffixed iptables-restore',
      mode: 'auto',
      installed: { nft: false, legacy: false, plain: true },
      counts: {},
      want: 'plain',
    },
    {
      name: 'an explicit mode wins over rule counts',
      mode: 'nft',
      installed: all,
      counts: { legacy: 9 },
      want: 'nft',
    },
  ] as const)('$name', ({ mode, installed, counts, want }) => {
    expect(chooseVariant(mode, installed, counts)).toBe(want);
  });

  it('reports an explicit mode that is not installed', () => {
    expect(chooseVariant('legacy', { nft: true, legacy: false, plain: true }, {})).toEqual({
      error: '--iptables legacy: iptables-legacy-restore is not installed',
    });
  });

  it('reports no iptables at all', () => {
    expect(chooseVariant('auto', { nft: false, legacy: false, plain: false }, {})).toHaveProperty('error');
  });
});

describe('binaries', () => {
  it('names the restore and save binaries per variant and family', () => {
    expect(binaries('nft', 'ipv6')).toEqual({ restore: 'ip6tables-nft-restore', save: 'ip6tables-nft-save' });
    expect(binaries('plain', 'ipv4')).toEqual({ restore: 'iptables-restore', save: 'iptables-save' });
  });
});

describe('countRules', () => {
  it('counts -A lines only', () => {
    expect(countRules('*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j X\n-A X -j RETURN\nCOMMIT\n')).toBe(
      2,
    );
  });
});

const IF_INET6_LINK_LOCAL = `00000000000000000000000000000001 01 80 10 80       lo
fe800000000000000c2d5bfffe1a2b3c 02 40 20 80     eth0
`;
const IF_INET6_GLOBAL = `${IF_INET6_LINK_LOCAL}fd000000000000000000000000000002 02 40 00 80     eth0
`;

describe('hasIpv6 and planIpv6', () => {
  it('any if_inet6 file means IPv6 exists, link-local or loopback only included', () => {
    expect(hasIpv6(undefined)).toBe(false);
    expect(hasIpv6(IF_INET6_LINK_LOCAL)).toBe(true);
    expect(hasIpv6(IF_INET6_GLOBAL)).toBe(true);
    expect(hasIpv6('')).toBe(true);
  });

  it.each([
    { name: 'off never applies', mode: 'off', text: IF_INET6_GLOBAL, ip6: true, want: { apply: false } },
    {
      name: 'auto skips a kernel without IPv6',
      mode: 'auto',
      text: undefined,
      ip6: true,
      want: { apply: false },
    },
    {
      name: 'auto applies with link-local only (an app bound to :: answers there)',
      mode: 'auto',
      text: IF_INET6_LINK_LOCAL,
      ip6: true,
      want: { apply: true, installed: true },
    },
    {
      name: 'auto applies with a global address',
      mode: 'auto',
      text: IF_INET6_GLOBAL,
      ip6: true,
      want: { apply: true, installed: true },
    },
    {
      name: 'auto keeps link-local only with missing ip6tables (fatal later)',
      mode: 'auto',
      text: IF_INET6_LINK_LOCAL,
      ip6: false,
      want: { apply: true, installed: false },
    },
    {
      name: 'on applies even without IPv6',
      mode: 'on',
      text: undefined,
      ip6: true,
      want: { apply: true, installed: true },
    },
  ] as const)('$name', ({ mode, text, ip6, want }) => {
    expect(planIpv6(mode, hasIpv6(text), ip6)).toMatchObject(want);
  });
});
