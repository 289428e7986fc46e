/**
 * `tokenwarden capture`: flags → config → iptables rules applied (or printed with --dry-run).
 * Exit 0 captured, 1 not captured (the init container fails, the pod does not start), 2 usage.
 */
import { CAPTURE_USAGE, ConfigError, parseCaptureArgs } from '../src/config/capture.js';
import { captureRules } from '../src/capture/rules.js';
import { runCapture, systemDeps } from '../src/capture/run.js';
import { createLogger } from '../src/log/logger.js';

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseCaptureArgs(argv);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`tokenwarden capture: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (parsed.help) {
    process.stdout.write(CAPTURE_USAGE);
    return 0;
  }
  const { config } = parsed;
  const options = { targetPorts: config.targetPorts, proxyPort: config.proxyPort, proxyUid: config.proxyUid };
  if (config.dryRun) {
    // As for a fresh namespace: with rules already there, the jumps are not repeated.
    process.stdout.write(`# iptables-restore --noflush\n${captureRules(options, 'ipv4')}`);
    process.stdout.write(`# ip6tables-restore --noflush\n${captureRules(options, 'ipv6')}`);
    return 0;
  }
  const log = createLogger('tokenwarden-capture', { destination: process.stderr });
  return runCapture(config, systemDeps(log));
}
