/** `tokenwarden operator`: flags → config → running operator; SIGTERM/SIGINT stop it gracefully, exit 0. */
import { KubeconfigError, loadKubeconfig } from '../src/cli/kubeconfig.js';
import {
  ConfigError,
  OPERATOR_USAGE,
  loadOperatorConfig,
  parseOperatorFlags,
} from '../src/config/operator.js';
import { createLogger } from '../src/log/logger.js';
import { runOperator } from '../src/operator/run.js';

export async function main(argv: string[]): Promise<number> {
  let config;
  try {
    const { help, flags } = parseOperatorFlags(argv);
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
