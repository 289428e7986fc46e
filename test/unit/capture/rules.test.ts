import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { captureRules, missingRules, type CaptureOptions } from '../../../src/capture/rules.js';

const golden = (name: string): string =>
  readFileSync(new URL(`../../fixtures/capture/${name}.rules`, import.meta.url), 'utf8');

const single: CaptureOptions = { targetPorts: [8080], proxyPort: 15080, proxyUid: 15080 };
const two: CaptureOptions = { targetPorts: [8080, 9090], proxyPort: 15081, proxyUid: 1337 };

describe('captureRules', () => {
  it.each([
    { name: 'single-port', options: single, family: 'ipv4' },
    { name: 'single-port', options: single, family: 'ipv6' },
    { name: 'two-ports', options: two, family: 'ipv4' },
    { name: 'two-ports', options: two, family: 'ipv6' },
  ] as const)('$name $family matches its golden rule text', ({ name, options, family }) => {
    expect(captureRules(options, family)).toBe(golden(`${name}.${family}`));
  });

  it('redirects only the target ports, in PREROUTING and in OUTPUT to loopback', () => {
    const rules = captureRules(two, 'ipv4');
    expect(rules).toContain('-A TOKENWARDEN_INBOUND -p tcp -m tcp --dport 9090 -j TOKENWARDEN_IN_REDIRECT');
    expect(rules).toContain(
      '-A TOKENWARDEN_OUTPUT -o lo -p tcp -m tcp --dport 9090 -j TOKENWARDEN_IN_REDIRECT',
    );
    expect(rules).not.toContain('--dport 15081');
  });

  it('exempts the sidecar UID before any redirect in OUTPUT', () => {
    const lines = captureRules(single, 'ipv6').split('\n');
    const uid = lines.indexOf('-A TOKENWARDEN_OUTPUT -m owner --uid-owner 15080 -j RETURN');
    const redirect = lines.findIndex((l) => l.startsWith('-A TOKENWARDEN_OUTPUT') && l.includes('REDIRECT'));
    expect(uid).toBeGreaterThan(0);
    expect(redirect).toBeGreaterThan(uid);
  });

  it('does not repeat the jumps from built-in chains that a previous run left (idempotent)', () => {
    const saved = `*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -p tcp -j TOKENWARDEN_INBOUND\n-A OUTPUT -p tcp -j TOKENWARDEN_OUTPUT\nCOMMIT\n`;
    const rules = captureRules(single, 'ipv4', saved);
    expect(rules).not.toContain('-A PREROUTING');
    expect(rules).not.toContain('-A OUTPUT ');
    // Our own chains are still declared, which flushes and refills them.
    expect(rules).toContain(':TOKENWARDEN_INBOUND - [0:0]');
    expect(rules).toContain('-A TOKENWARDEN_INBOUND -p tcp -m tcp --dport 8080');
  });

  it('adds the jumps when only another tool has rules in the built-in chains', () => {
    const saved = `*nat\n-A PREROUTING -p tcp -j ISTIO_INBOUND\n-A OUTPUT -p tcp -j ISTIO_OUTPUT\nCOMMIT\n`;
    expect(captureRules(single, 'ipv4', saved)).toContain('-A PREROUTING -p tcp -j TOKENWARDEN_INBOUND\n');
  });

  it.each([
    { name: 'no target port', options: { ...single, targetPorts: [] } },
    { name: 'target port is the proxy port', options: { ...single, targetPorts: [15080] } },
    { name: 'port 0', options: { ...single, targetPorts: [0] } },
    { name: 'port above 65535', options: { ...single, proxyPort: 70000 } },
    { name: 'negative UID', options: { ...single, proxyUid: -1 } },
  ])('refuses options with $name', ({ options }) => {
    expect(() => captureRules(options, 'ipv4')).toThrow(/capture:/);
  });
});

describe('missingRules', () => {
  it('finds nothing missing in what iptables-save prints after the golden input is applied', () => {
    // The shape iptables-save 1.8 prints (nft and legacy alike): jumps first, chains sorted.
    const saved = golden('single-port.ipv4')
      .split('\n')
      .filter((l) => l.startsWith('-A '))
      .sort()
      .join('\n');
    expect(missingRules(single, 'ipv4', saved)).toEqual([]);
  });

  it('names each rule that is absent', () => {
    const saved = golden('single-port.ipv4').replace('-A OUTPUT -p tcp -j TOKENWARDEN_OUTPUT\n', '');
    expect(missingRules(single, 'ipv4', saved)).toEqual(['-A OUTPUT -p tcp -j TOKENWARDEN_OUTPUT']);
  });

  it('does not take IPv4 rules for IPv6 ones', () => {
    expect(missingRules(single, 'ipv6', golden('single-port.ipv4'))).toEqual([
      '-A TOKENWARDEN_OUTPUT -d ::1/128 -j RETURN',
    ]);
  });
});
