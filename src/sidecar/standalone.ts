/**
 * Standalone mode: the policy file is the source. Each new content is parsed, validated and
 * compiled; only a fully valid file replaces the enforced configuration. A bad edit keeps the
 * last good policy, says why on stderr (the log) and flips tokenwarden_config_valid to 0.
 */
import type { Logger } from '../log/logger.js';
import type { SidecarMetrics } from '../metrics/sidecar.js';
import { compilePolicy } from '../policy/compile.js';
import { parsePolicyDocuments } from '../policy/load.js';
import { formatFieldErrors } from '../policy/validate.js';
import { FileSource } from './file-source.js';
import type { EnforcementState } from '../decide/state.js';

export interface StandaloneOptions {
  path: string;
  state: EnforcementState;
  metrics: SidecarMetrics;
  log: Logger;
  now?: () => number;
  /** Where the one-line refusal goes besides the log (stderr by default). */
  stderr?: (line: string) => void;
}

export function startPolicyFile(opts: StandaloneOptions): FileSource {
  const { state, metrics, log } = opts;
  const now = opts.now ?? Date.now;
  const stderr = opts.stderr ?? ((line: string) => process.stderr.write(line));
  const refuse = (why: string): void => {
    metrics.configValid.set(0);
    metrics.configReloadErrors.inc({ source: 'file' });
    const keeping = state.active ? `keeping generation ${state.active.generation}` : 'no policy enforced yet';
    log.error({ file: opts.path, errors: why }, `policy file refused; ${keeping}`);
    stderr(`tokenwarden sidecar: ${opts.path} refused (${keeping}): ${why.replace(/\n/g, '; ')}\n`);
  };
  return new FileSource({
    path: opts.path,
    onReadError: (err) => refuse(`cannot read ${opts.path}: ${err.message}`),
    onContent: (text) => {
      const parsed = parsePolicyDocuments(text, { standalone: true });
      if (!parsed.ok) return refuse(formatFieldErrors(parsed.errors));
      let compiled;
      try {
        compiled = compilePolicy(parsed.value.policy);
      } catch (err) {
        return refuse((err as Error).message);
      }
      // A revocation without a namespace applies to the file's policy (RevocationSet.build).
      const active = state.apply(compiled, parsed.value.revocations, now());
      metrics.configValid.set(1);
      log.info(
        {
          file: opts.path,
          policy: compiled.name,
          generation: active.generation,
          revocations: active.revocations.size,
          rules: compiled.rules.length,
        },
        'policy applied',
      );
    },
  });
}
