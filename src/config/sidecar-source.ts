/**
 * Where a sidecar's configuration comes from: a policy file (standalone) or the operator
 * (in-cluster), from `--policy` / `--control-plane` and the flags that go with them.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from './listen.js';
import { DEFAULT_STATE_DIR, DEFAULT_TOKEN_FILE } from './sidecar-flags.js';

/** In-cluster mode: where the configuration comes from (docs/contracts/in-cluster.md). */
export interface ControlPlaneConfig {
  readonly url: URL;
  /** PEM CA bundle the operator's certificate must chain to; undefined: the system roots. */
  readonly caPem: string | undefined;
  /** Where the CA came from, for the start-up log line. */
  readonly caSource: 'file' | 'env' | 'system';
  /** Projected ServiceAccount token, re-read on every connect (the kubelet rotates it). */
  readonly tokenFile: string;
  /** The snapshot lives here as snapshot.json. */
  readonly stateDir: string;
  /** Downward API, for logs and /status only: identity comes from the token. */
  readonly podName: string | undefined;
  readonly podNamespace: string | undefined;
}

/** Exactly one source: a policy file (standalone) or the operator (in-cluster). */
export type ConfigSource =
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'control-plane'; readonly controlPlane: ControlPlaneConfig };

interface SourceFlags {
  policy?: string;
  'control-plane'?: string;
  'control-plane-ca'?: string;
  'token-file'?: string;
  'state-dir'?: string;
}

export function parseSource(values: SourceFlags, env: NodeJS.ProcessEnv): ConfigSource {
  const cpOnly = (['control-plane-ca', 'token-file', 'state-dir'] as const).filter(
    (f) => values[f] !== undefined,
  );
  if (values['control-plane'] === undefined) {
    if (cpOnly.length > 0)
      throw new ConfigError(`--${cpOnly[0] ?? ''} only applies with --control-plane URL (in-cluster mode)`);
    if (!values.policy)
      throw new ConfigError(
        '--policy FILE (a YAML file with one TokenPolicy) or --control-plane URL (in-cluster) is required',
      );
    return { kind: 'file', path: values.policy };
  }
  const raw = values['control-plane'];
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(
      `--control-plane: "${raw}" is not a URL; expected e.g. https://tokenwarden.tokenwarden.svc:15443`,
    );
  }
  // The stream carries the policy and the bearer token: never in clear text.
  if (url.protocol !== 'https:' || url.search || url.hash || url.username || url.password) {
    throw new ConfigError(`--control-plane: expected https://HOST[:PORT] with no query, got "${raw}"`);
  }
  let caPem: string | undefined;
  let caSource: ControlPlaneConfig['caSource'] = 'system';
  const caFile = values['control-plane-ca'];
  if (caFile !== undefined) {
    try {
      caPem = readFileSync(caFile, 'utf8');
    } catch (err) {
      throw new ConfigError(`--control-plane-ca: cannot read ${caFile}: ${(err as Error).message}`);
    }
    caSource = 'file';
  } else if (env.TOKENWARDEN_CA_PEM !== undefined && env.TOKENWARDEN_CA_PEM.trim() !== '') {
    caPem = env.TOKENWARDEN_CA_PEM;
    caSource = 'env';
  }
  if (caPem !== undefined && !caPem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new ConfigError(
      `${caSource === 'file' ? `--control-plane-ca ${caFile ?? ''}` : 'TOKENWARDEN_CA_PEM'}: holds no PEM certificate`,
    );
  }
  return {
    kind: 'control-plane',
    controlPlane: Object.freeze({
      url,
      caPem,
      caSource,
      tokenFile: values['token-file'] ?? DEFAULT_TOKEN_FILE,
      stateDir: values['state-dir'] ?? DEFAULT_STATE_DIR,
      podName: env.POD_NAME || undefined,
      podNamespace: env.POD_NAMESPACE || undefined,
    }),
  };
}
