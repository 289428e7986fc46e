import { describe, expect, it } from 'vitest';
import { parseCidr, TrustedProxies } from '../../../src/policy/cidr.js';
import type { Cidr } from '../../../src/policy/types.js';

const cidrs = (...texts: string[]): Cidr[] =>
  texts.map((t) => {
    const p = parseCidr(t);
    if (!p.ok) throw new Error(p.message);
    return p.cidr;
  });

describe('parseCidr', () => {
  it.each([
    ['10.0.0.0/8', { family: 4, address: '10.0.0.0', prefix: 8 }],
    ['192.168.1.7', { family: 4, address: '192.168.1.7', prefix: 32 }],
    ['0.0.0.0/0', { family: 4, address: '0.0.0.0', prefix: 0 }],
    ['fd00::/8', { family: 6, address: 'fd00::', prefix: 8 }],
    ['::1', { family: 6, address: '::1', prefix: 128 }],
    ['2001:db8::/32', { family: 6, address: '2001:db8::', prefix: 32 }],
  ])('reads %s', (text, cidr) => {
    expect(parseCidr(text)).toEqual({ ok: true, cidr });
  });

  it.each(['10.0.0.1/8', '10.0.0.0/33', '10.0.0.0/-1', '10.0.0.0/', 'fd00::1/8', 'proxy', '10.0.0/8', ''])(
    'refuses %s',
    (text) => {
      expect(parseCidr(text).ok).toBe(false);
    },
  );
});

describe('TrustedProxies', () => {
  const t = new TrustedProxies(cidrs('10.0.0.0/8', 'fd00::/8', '127.0.0.1'));
  it.each([
    ['10.1.2.3', true],
    ['::ffff:10.1.2.3', true],
    ['11.0.0.1', false],
    ['fd12::1', true],
    ['fe80::1', false],
    ['127.0.0.1', true],
    ['127.0.0.2', false],
    ['not an address', false],
  ])('%s trusted: %s', (address, trusted) => {
    expect(t.has(address)).toBe(trusted);
  });

  it('trusts nobody when empty, and no undefined peer', () => {
    expect(new TrustedProxies([]).has('10.0.0.1')).toBe(false);
    expect(t.has(undefined)).toBe(false);
  });
});
