/**
 * Is this TokenPolicy ready to enforce? A chain of small checks in the cert-manager manner,
 * each giving a reason and a message that names what is wrong: validate (the same validator
 * as the sidecar's file loader), compile (the same compiler), then the keys of every issuer.
 * The only I/O, the key fetch, is passed in.
 */
import { compilePolicy } from '../../policy/compile.js';
import type { CompiledIssuer, CompiledPolicy, TokenPolicy } from '../../policy/types.js';
import { validatePolicy } from '../../policy/validate.js';
import { clip as clipTo, formatFieldErrors, type ReadyState } from '../status/ready-reasons.js';
import type { KeyProblem } from './keys.js';

/** Fetches (or finds cached) the keys of these issuers; reports the issuers without usable keys. */
export type EnsureKeys = (issuers: readonly CompiledIssuer[]) => Promise<KeyProblem[]>;

/** `policy` once it validated, `compiled` once it compiled (Ready=True implies both). */
export interface ReadyDecision {
  readonly ready: ReadyState;
  readonly policy?: TokenPolicy;
  readonly compiled?: CompiledPolicy;
}

/** Longest message kept from a single cause, so one verbose error cannot crowd out the others. */
const MAX_PART = 512;

function clip(s: string): string {
  return clipTo(s, MAX_PART);
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** The spec half of the decision: validated and compiled, or why not. Pure and synchronous. */
export type SpecCheck =
  | { readonly ok: true; readonly policy: TokenPolicy; readonly compiled: CompiledPolicy }
  | { readonly ok: false; readonly ready: ReadyState; readonly policy?: TokenPolicy };

export function checkSpec(obj: unknown): SpecCheck {
  const validated = validatePolicy(obj, { standalone: false });
  if (!validated.ok) {
    const message = formatFieldErrors(validated.errors, MAX_PART);
    return { ok: false, ready: { status: 'False', reason: 'InvalidSpec', message } };
  }
  const policy = validated.value;
  try {
    return { ok: true, policy, compiled: compilePolicy(policy) };
  } catch (err) {
    // Validation should have caught it; say so rather than hide a gap between the two.
    const why = err instanceof Error ? err.message : String(err);
    return {
      ok: false,
      ready: { status: 'False', reason: 'InvalidSpec', message: `spec does not compile: ${clip(why)}` },
      policy,
    };
  }
}

/**
 * The whole decision. `spec` may be passed in when the caller already checked this generation
 * of the spec (validation and compilation depend on nothing else); only the keys are looked at
 * again, since they may come and go on their own.
 */
export async function decideReady(
  obj: unknown,
  ensureKeys: EnsureKeys,
  spec: SpecCheck = checkSpec(obj),
): Promise<ReadyDecision> {
  if (!spec.ok) return { ready: spec.ready, ...(spec.policy === undefined ? {} : { policy: spec.policy }) };
  const { policy, compiled } = spec;
  const issuers = [...compiled.issuers.values()];
  const problems = await ensureKeys(issuers);
  if (problems.length > 0) {
    const message = problems.map((p) => `issuer ${p.issuer}: ${clip(p.message)}`).join('; ');
    return {
      ready: { status: 'False', reason: 'KeysUnavailable', message: `no usable keys for ${message}` },
      policy,
      compiled,
    };
  }
  const message =
    `compiled generation ${compiled.generation}: ${plural(issuers.length, 'issuer')}, ` +
    `${plural(compiled.rules.length, 'rule')}, mode ${compiled.mode}`;
  return { ready: { status: 'True', reason: 'Compiled', message }, policy, compiled };
}
