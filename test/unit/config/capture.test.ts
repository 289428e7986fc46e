import { describe, expect, it } from 'vitest';
import { ConfigError, parseCaptureArgs } from '../../../src/config/capture.js';

describe('parseCaptureArgs', () => {
  it('parses the injected init container args (docs/contracts/in-cluster.md)', () => {
    expect(
      parseCaptureArgs(['--target-port', '8080', '--proxy-port', '15080', '--proxy-uid', '15080']),
    ).toEqual({
      help: false,
      config: {
        targetPorts: [8080],
        proxyPort: 15080,
        proxyUid: 15080,
        iptables: 'auto',
        ipv6: 'auto',
        dryRun: false,
      },
    });
  });

  it('takes several target ports, repeated or comma-separated, without duplicates', () => {
    const parsed = parseCaptureArgs([
      '--target-port',
      '8080,9090',
      '--target-port',
      '8080',
      '--target-port=7070',
    ]);
    expect(parsed.help === false && parsed.config.targetPorts).toEqual([8080, 9090, 7070]);
  });

  it('answers --help', () => {
    expect(parseCaptureArgs(['--help'])).toEqual({ help: true });
  });

  it.each([
    { name: 'no target port', argv: [], message: /--target-port P is required/ },
    { name: 'a target port that is the proxy port', argv: ['--target-port', '15080'], message: /proxy port/ },
    {
      name: 'a port out of range',
      argv: ['--target-port', '65536'],
      message: /--target-port: expected a port/,
    },
    { name: 'a named port', argv: ['--target-port', 'http'], message: /--target-port: expected a port/ },
    {
      name: 'a UID that is not a number',
      argv: ['--target-port', '80', '--proxy-uid', 'proxy'],
      message: /--proxy-uid/,
    },
    {
      name: 'an unknown iptables mode',
      argv: ['--target-port', '80', '--iptables', 'ebpf'],
      message: /--iptables: expected one of auto\|nft\|legacy/,
    },
    { name: 'an unknown ipv6 mode', argv: ['--target-port', '80', '--ipv6', 'yes'], message: /--ipv6/ },
    {
      name: 'an unknown flag',
      argv: ['--target-port', '80', '--proxy', '1'],
      message: /tokenwarden capture --help/,
    },
  ])('refuses $name', ({ argv, message }) => {
    expect(() => parseCaptureArgs(argv)).toThrow(ConfigError);
    expect(() => parseCaptureArgs(argv)).toThrow(message);
  });
});
