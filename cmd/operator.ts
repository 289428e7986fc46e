/** `tokenwarden operator`: flags → config → running operator; SIGTERM/SIGINT stop it gracefully, exit 0. */
import { parseArgs } from 'node:util';
import { KubeconfigError, loadKubeconfig } from '../src/cli/kubeconfig.js';
import { ConfigError, loadOperatorConfig, type OperatorFlags } from '../src/config/operator.js';
import { createLogger } from '../src/log/logger.js';
import { runOperator } from '../src/operator/run.js';

export const OPERATOR_USAGE = `usage: tokenwarden operator [flags]

Runs the Kubernetes operator: watches TokenPolicy, TokenRevocation and Pods, compiles each
policy, fetches issuer keys, serves every sidecar its configuration over HTTPS, and (the Lease
leader only) writes status and Events and deletes expired revocations. In a pod it uses the
pod's service account.

flags:
  --kubeconfig FILE         kubeconfig to use (default: $KUBECONFIG, ~/.kube/config, or in-cluster)
  --metrics-listen H:P      /metrics /healthz /readyz (default 0.0.0.0:15091)
  --namespace NS            the operator's namespace: serving Secret, replica summaries
                            (default: $POD_NAMESPACE, the pod's, or default)
  --serve H:P               HTTPS server for the sidecars' config stream and the webhook
                            (default 0.0.0.0:15443)
  --service-name NAME       the operator's Service; the certificate covers NAME.NS.svc (default tokenwarden)
  --serving-dns NAME        another DNS name for the managed certificate (repeatable)
  --serving-ip IP           an IP address for the managed certificate (repeatable; tests)
  --cert-manager            cert-manager issues Secret tokenwarden-serving; only read it
  --lease-namespace NS      namespace of the leader Lease (default: --namespace)
  --lease-name NAME         leader Lease name (default tokenwarden-operator)
  --lease-duration S        leader lease duration in seconds (default 15)
  --resync S                re-reconcile everything this often (default 300)
  --shutdown-timeout S      how long SIGTERM waits for running reconciles (default 10)
  --log-level LEVEL         trace|debug|info|warn|error (default info, env TOKENWARDEN_LOG_LEVEL)
  --injection-config FILE   sidecar injection settings (JSON; the chart's ConfigMap)
  --webhook-configuration N MutatingWebhookConfiguration whose caBundle the operator keeps current
  -h, --help                this text
`;

function parse(argv: string[]): { help: boolean; flags: OperatorFlags } {
  try {
    const { values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        kubeconfig: { type: 'string' },
        'metrics-listen': { type: 'string' },
        'lease-namespace': { type: 'string' },
        'lease-name': { type: 'string' },
        'lease-duration': { type: 'string' },
        resync: { type: 'string' },
        'shutdown-timeout': { type: 'string' },
        'log-level': { type: 'string' },
        'injection-config': { type: 'string' },
        'webhook-configuration': { type: 'string' },
        namespace: { type: 'string' },
        serve: { type: 'string' },
        'service-name': { type: 'string' },
        'serving-dns': { type: 'string', multiple: true },
        'serving-ip': { type: 'string', multiple: true },
        'cert-manager': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    const { help = false, ...flags } = values;
    return { help, flags };
  } catch (err) {
    throw new ConfigError(`${(err as Error).message}; run 'tokenwarden operator --help'`);
  }
}

export async function main(argv: string[]): Promise<number> {
  let config;
  try {
    const { help, flags } = parse(argv);
    if (help) {
      process.stdout.write(OPERATOR_USAGE);
      return 0;
    }
    config = loadOperatorConfig(flags);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`tokenwarden operator: ${err.message}\n`);
    return 2;
  }
  let kc;
  try {
    kc = loadKubeconfig(config.kubeconfig);
  } catch (err) {
    if (!(err instanceof KubeconfigError)) throw err;
    process.stderr.write(`tokenwarden operator: ${err.message}\n`);
    return 2;
  }
  const log = createLogger('tokenwarden-operator', { level: config.logLevel });
  let operator;
  try {
    operator = await runOperator(config, { kc, log });
  } catch (err) {
    const e = err as Error & { code?: string };
    const hint = e.code === 'EADDRINUSE' ? ' (address in use: pick another --metrics-listen or --serve)' : '';
    process.stderr.write(`tokenwarden operator: cannot start: ${e.message}${hint}\n`);
    return 1;
  }
  const running = operator;
  return new Promise<number>((resolve) => {
    const stop = (signal: string): void => {
      log.info({ signal }, 'shutting down');
      running.stop().then(
        () => resolve(0),
        (err: unknown) => {
          log.error({ err: (err as Error).message }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
