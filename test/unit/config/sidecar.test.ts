import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config/listen.js';
import { parseSidecarArgs, type SidecarConfig } from '../../../src/config/sidecar.js';

const UP = ['--upstream', 'http://127.0.0.1:8080'];
const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

function config(argv: string[], env: NodeJS.ProcessEnv = {}): SidecarConfig {
  const r = parseSidecarArgs([...argv, ...UP], env);
  if (r.help) throw new Error('help');
  return r.config;
}

describe('sidecar flags: the config source', () => {
  it('standalone: --policy FILE', () => {
    expect(config(['--policy', 'p.yaml']).source).toEqual({ kind: 'file', path: 'p.yaml' });
  });

  it('in-cluster: defaults for the token file and the state directory, system roots', () => {
    expect(config(['--control-plane', 'https://tokenwarden.tokenwarden.svc:15443']).source).toMatchObject({
      kind: 'control-plane',
      controlPlane: {
        tokenFile: '/var/run/secrets/tokenwarden/token',
        stateDir: '/var/lib/tokenwarden',
        caPem: undefined,
        caSource: 'system',
      },
    });
  });

  it('in-cluster: the CA from --control-plane-ca wins over TOKENWARDEN_CA_PEM', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tw-cfg-'));
    writeFileSync(join(dir, 'ca.crt'), PEM);
    const cp = ['--control-plane', 'https://op:15443'];
    expect(
      config([...cp, '--control-plane-ca', join(dir, 'ca.crt')], { TOKENWARDEN_CA_PEM: 'other' }).source,
    ).toMatchObject({
      controlPlane: { caPem: PEM, caSource: 'file' },
    });
    expect(config(cp, { TOKENWARDEN_CA_PEM: PEM, POD_NAME: 'p', POD_NAMESPACE: 'n' }).source).toMatchObject({
      controlPlane: { caPem: PEM, caSource: 'env', podName: 'p', podNamespace: 'n' },
    });
  });

  const refused: { name: string; argv: string[]; env?: NodeJS.ProcessEnv; message: RegExp }[] = [
    {
      name: 'both sources',
      argv: ['--policy', 'p', '--control-plane', 'https://op'],
      message: /mutually exclusive/,
    },
    { name: 'no source', argv: [], message: /--policy FILE .* or --control-plane URL/ },
    { name: 'plain http', argv: ['--control-plane', 'http://op:15443'], message: /expected https/ },
    { name: 'not a URL', argv: ['--control-plane', 'op'], message: /is not a URL/ },
    {
      name: 'in-cluster flag without --control-plane',
      argv: ['--policy', 'p', '--state-dir', '/x'],
      message: /--state-dir only applies/,
    },
    {
      name: 'unreadable CA file',
      argv: ['--control-plane', 'https://op', '--control-plane-ca', '/nonexistent/ca'],
      message: /cannot read/,
    },
    {
      name: 'CA env without a certificate',
      argv: ['--control-plane', 'https://op'],
      env: { TOKENWARDEN_CA_PEM: 'junk' },
      message: /holds no PEM certificate/,
    },
  ];
  it.each(refused)('refuses $name', ({ argv, env, message }) => {
    expect(() => parseSidecarArgs([...argv, ...UP], env ?? {})).toThrow(ConfigError);
    expect(() => parseSidecarArgs([...argv, ...UP], env ?? {})).toThrow(message);
  });
});
