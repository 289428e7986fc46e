/**
 * Valid but risky settings: the policy is enforced, and a platform engineer is told. One list,
 * read by the operator (the TokenPolicy `Warnings` condition) and by `tokenwarden check`, so
 * both say the same thing. Pure.
 */
import type { CompiledPolicy } from './types.js';

export type WarningReason = 'NoLifetimeCap';

export interface PolicyWarning {
  readonly reason: WarningReason;
  readonly message: string;
}

export function policyWarnings(policy: CompiledPolicy): PolicyWarning[] {
  const warnings: PolicyWarning[] = [];
  const { maxLifetimeSeconds, maxTokenAgeSeconds } = policy.expiry;
  if (maxLifetimeSeconds === undefined && maxTokenAgeSeconds === undefined) {
    warnings.push({
      reason: 'NoLifetimeCap',
      message:
        'neither spec.expiry.maxLifetimeSeconds nor spec.expiry.maxTokenAgeSeconds is set: a token is accepted ' +
        'until its own exp, up to the hard limit of 10 years from now',
    });
  }
  return warnings;
}
