/** `tokenwarden sidecar`: flags → config → running proxy; SIGTERM drains and exits 0. */
import { ConfigError } from '../src/config/listen.js';
import { SIDECAR_USAGE, parseSidecarArgs } from '../src/config/sidecar.js';
import { createLogger } from '../src/log/logger.js';
import { runSidecar } from '../src/sidecar/run.js';
import { applySidecarV8Settings } from '../src/sidecar/v8-settings.js';

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseSidecarArgs(argv);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`tokenwarden sidecar: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (parsed.help) {
    process.stdout.write(SIDECAR_USAGE);
    return 0;
  }
  // Before the first connection and before much is allocated (src/sidecar/v8-settings.ts).
  applySidecarV8Settings(parsed.config.memory.semiSpaceMiB);
  const log = createLogger('tokenwarden-sidecar', { level: parsed.config.logLevel });
  let sidecar;
  try {
    sidecar = await runSidecar(parsed.config, log);
  } catch (err) {
    const e = err as Error & { code?: string };
    const hint = e.code === 'EADDRINUSE' ? ' (address in use: pick another --listen/--admin-listen)' : '';
    process.stderr.write(`tokenwarden sidecar: cannot start: ${e.message}${hint}\n`);
    return 1;
  }
  const running = sidecar;
  return new Promise<number>((resolve) => {
    const stop = (signal: string): void => {
      log.info({ signal }, 'shutting down');
      running.close().then(
        () => resolve(0),
        () => resolve(1),
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
