/**
 * `tokenwarden operator`: every flag, its default, unit, bounds and help, written once. The
 * parser (operator.ts) and the usage text below are made from this table.
 */
import { OPERATOR_METRICS_PORT, OPERATOR_SERVE_PORT } from '../core/ports.js';
import { flagLines, parseFlags, type FlagTable, type FlagValues } from './flags.js';

export const OPERATOR_FLAGS = {
  kubeconfig: {
    arg: 'FILE',
    defaultText: '$KUBECONFIG, ~/.kube/config, or in-cluster',
    help: 'kubeconfig to use',
  },
  'metrics-listen': {
    arg: 'H:P',
    default: `0.0.0.0:${OPERATOR_METRICS_PORT}`,
    help: '/metrics /healthz /readyz',
  },
  namespace: {
    arg: 'NS',
    defaultText: "$POD_NAMESPACE, the pod's, or default",
    help: "the operator's namespace: serving Secret, replica summaries",
  },
  serve: {
    arg: 'H:P',
    default: `0.0.0.0:${OPERATOR_SERVE_PORT}`,
    help: "HTTPS server for the sidecars' config stream and the webhook",
  },
  'service-name': {
    arg: 'NAME',
    default: 'tokenwarden',
    help: "the operator's Service; the certificate covers NAME.NS.svc",
  },
  'serving-dns': {
    arg: 'NAME',
    multiple: true,
    help: 'another DNS name for the managed certificate (repeatable)',
  },
  'serving-ip': {
    arg: 'IP',
    multiple: true,
    help: 'an IP address for the managed certificate (repeatable; tests)',
  },
  'cert-manager': { help: 'cert-manager issues Secret tokenwarden-serving; only read it' },
  'lease-namespace': { arg: 'NS', defaultText: '--namespace', help: 'namespace of the leader Lease' },
  'lease-name': { arg: 'NAME', default: 'tokenwarden-operator', help: 'leader Lease name' },
  'lease-duration': {
    arg: 'S',
    default: 15,
    unit: 's',
    min: 1,
    max: 300,
    help: 'leader lease duration in seconds',
  },
  resync: {
    arg: 'S',
    default: 300,
    unit: 's',
    min: 1,
    max: 86_400,
    help: 're-reconcile everything this often',
  },
  'shutdown-timeout': {
    arg: 'S',
    default: 10,
    unit: 's',
    min: 0,
    max: 300,
    help: 'how long SIGTERM waits for running reconciles',
  },
  'log-level': {
    arg: 'LEVEL',
    default: 'info',
    env: 'TOKENWARDEN_LOG_LEVEL',
    help: 'trace|debug|info|warn|error',
  },
  'stream-auth': {
    arg: 'MODE',
    default: 'issuer-keys',
    choices: ['issuer-keys', 'tokenreview'],
    help: '',
    note: "how sidecar tokens are authenticated: issuer-keys checks them against the API server's service-account keys and sends a TokenReview only for what those cannot decide; tokenreview sends one for every new token",
  },
  'injection-config': { arg: 'FILE', help: "sidecar injection settings (JSON; the chart's ConfigMap)" },
  'webhook-configuration': {
    arg: 'N',
    help: 'MutatingWebhookConfiguration whose caBundle the operator keeps current',
  },
} as const satisfies FlagTable;

/** Flag values as the parser returns them (strings, or absent). */
export type OperatorFlags = FlagValues<typeof OPERATOR_FLAGS>;

export const OPERATOR_USAGE = `usage: tokenwarden operator [flags]

Runs the Kubernetes operator: watches TokenPolicy, TokenRevocation and Pods, compiles each
policy, fetches issuer keys, serves every sidecar its configuration over HTTPS, and (the Lease
leader only) writes status and Events and deletes expired revocations. In a pod it uses the
pod's service account.

flags:
${flagLines(OPERATOR_FLAGS, 28)}`;

/** argv → the operator's flags (defaults are applied by loadOperatorConfig). */
export function parseOperatorFlags(argv: string[]): { help: boolean; flags: OperatorFlags } {
  const { help, values } = parseFlags('operator', OPERATOR_FLAGS, argv);
  return { help, flags: values };
}
