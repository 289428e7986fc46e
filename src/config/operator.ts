/**
 * `tokenwarden operator` configuration: flags and environment → one frozen, typed config,
 * validated once at start-up. The only place the operator reads `process.env`.
 *
 * Environment (a flag wins over its variable):
 *   POD_NAME, POD_NAMESPACE   downward API: lease holder / replica identity, the operator's namespace
 *   TOKENWARDEN_LOG_LEVEL     default for --log-level
 */
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { parseInjectionConfig, type InjectionFileConfig } from './injection.js';
import { ConfigError, parseListen, type ListenAddress } from './listen.js';
import { OPERATOR_FLAGS, type OperatorFlags } from './operator-flags.js';

export { ConfigError } from './listen.js';

export interface OperatorConfig {
  /** undefined: `KubeConfig.loadFromDefault()` ($KUBECONFIG, ~/.kube/config, or in-cluster). */
  readonly kubeconfig: string | undefined;
  readonly metricsListen: ListenAddress;
  readonly leaseNamespace: string;
  readonly leaseName: string;
  readonly leaseDurationSeconds: number;
  /** Every policy and revocation is re-queued this often, whatever the watches said. */
  readonly resyncSeconds: number;
  readonly logLevel: string;
  /** Lease holder identity: the pod name in a cluster, hostname_pid elsewhere. */
  readonly identity: string;
  /** How long SIGTERM waits for in-flight reconciles before giving up on them. */
  readonly shutdownTimeoutSeconds: number;
  /** `--injection-config FILE`: what the injection webhook adds to pods; undefined: no webhook. */
  readonly injection: InjectionFileConfig | undefined;
  /** `--webhook-configuration NAME`: the MutatingWebhookConfiguration whose caBundle is kept in step. */
  readonly webhookConfiguration: string | undefined;
  /** The operator's own namespace: the serving Secret and the replica summaries live there. */
  readonly namespace: string;
  /** The HTTPS server (config stream, admission webhook). */
  readonly serve: ListenAddress;
  /** Name of the operator's Service: the serving certificate's DNS names derive from it. */
  readonly serviceName: string;
  /** Extra DNS names (and IP addresses) the managed serving certificate must cover. */
  readonly servingDnsNames: readonly string[];
  readonly servingIpAddresses: readonly string[];
  /** cert-manager issues the serving Secret; the operator only waits for it and reads it. */
  readonly certManager: boolean;
  /** How sidecar tokens are authenticated (`--stream-auth`; docs/adr/0017). */
  readonly streamAuth: StreamAuth;
}

export const STREAM_AUTH_MODES = OPERATOR_FLAGS['stream-auth'].choices;
export type StreamAuth = (typeof STREAM_AUTH_MODES)[number];

export { OPERATOR_FLAGS, OPERATOR_USAGE, parseOperatorFlags, type OperatorFlags } from './operator-flags.js';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_NAME = /^(\*\.)?[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const IN_CLUSTER_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/** A number of seconds within the table's bounds; absent: the table's default. */
function seconds(flag: 'lease-duration' | 'resync' | 'shutdown-timeout', value: string | undefined): number {
  const f = OPERATOR_FLAGS[flag];
  if (value === undefined) return f.default;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < f.min || n > f.max) {
    throw new ConfigError(`--${flag} "${value}" must be a number of seconds between ${f.min} and ${f.max}`);
  }
  return n;
}

function defaultLeaseNamespace(env: NodeJS.ProcessEnv): string {
  if (env.POD_NAMESPACE) return env.POD_NAMESPACE;
  if (existsSync(IN_CLUSTER_NAMESPACE_FILE)) return readFileSync(IN_CLUSTER_NAMESPACE_FILE, 'utf8').trim();
  return 'default';
}

export function loadOperatorConfig(
  flags: OperatorFlags,
  env: NodeJS.ProcessEnv = process.env,
): OperatorConfig {
  const logLevel =
    flags['log-level'] ?? env[OPERATOR_FLAGS['log-level'].env] ?? OPERATOR_FLAGS['log-level'].default;
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError(`--log-level "${logLevel}" must be one of ${LOG_LEVELS.join(', ')}`);
  }
  const leaseDurationSeconds = seconds('lease-duration', flags['lease-duration']);
  const leaseName = flags['lease-name'] ?? OPERATOR_FLAGS['lease-name'].default;
  if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(leaseName)) {
    throw new ConfigError(`--lease-name "${leaseName}" must be a DNS subdomain name`);
  }
  const namespace = flags.namespace ?? defaultLeaseNamespace(env);
  if (!DNS_LABEL.test(namespace)) {
    throw new ConfigError(`--namespace "${namespace}" must be a namespace name`);
  }
  const leaseNamespace = flags['lease-namespace'] ?? namespace;
  if (!DNS_LABEL.test(leaseNamespace)) {
    throw new ConfigError(`--lease-namespace "${leaseNamespace}" must be a namespace name`);
  }
  const serviceName = flags['service-name'] ?? OPERATOR_FLAGS['service-name'].default;
  if (!DNS_LABEL.test(serviceName)) {
    throw new ConfigError(`--service-name "${serviceName}" must be a DNS label (a Service name)`);
  }
  const servingDnsNames = flags['serving-dns'] ?? [];
  for (const n of servingDnsNames)
    if (!DNS_NAME.test(n)) throw new ConfigError(`--serving-dns "${n}" must be a lower-case DNS name`);
  const streamAuth = flags['stream-auth'] ?? OPERATOR_FLAGS['stream-auth'].default;
  if (!(STREAM_AUTH_MODES as readonly string[]).includes(streamAuth))
    throw new ConfigError(`--stream-auth "${streamAuth}" must be one of ${STREAM_AUTH_MODES.join(', ')}`);
  const servingIpAddresses = flags['serving-ip'] ?? [];
  for (const ip of servingIpAddresses)
    if (isIP(ip) === 0) throw new ConfigError(`--serving-ip "${ip}" must be an IPv4 or IPv6 address`);
  return Object.freeze({
    kubeconfig: flags.kubeconfig,
    metricsListen: Object.freeze(
      parseListen('metrics-listen', flags['metrics-listen'] ?? OPERATOR_FLAGS['metrics-listen'].default),
    ),
    leaseNamespace,
    leaseName,
    leaseDurationSeconds,
    resyncSeconds: seconds('resync', flags.resync),
    logLevel,
    identity: env.POD_NAME ?? `${hostname()}_${process.pid}`,
    shutdownTimeoutSeconds: seconds('shutdown-timeout', flags['shutdown-timeout']),
    injection: readInjectionConfig(flags['injection-config']),
    webhookConfiguration: flags['webhook-configuration'],
    namespace,
    serve: Object.freeze(parseListen('serve', flags.serve ?? OPERATOR_FLAGS.serve.default)),
    serviceName,
    servingDnsNames: Object.freeze([...servingDnsNames]),
    servingIpAddresses: Object.freeze([...servingIpAddresses]),
    certManager: flags['cert-manager'] === true,
    streamAuth: streamAuth as StreamAuth,
  });
}

function readInjectionConfig(file: string | undefined): InjectionFileConfig | undefined {
  if (file === undefined) return undefined;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`--injection-config: cannot read ${file}: ${(err as Error).message}`);
  }
  return parseInjectionConfig(text, `--injection-config ${file}`);
}
