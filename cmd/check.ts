/**
 * `tokenwarden check --policy FILE --token TOKEN [--path P] [--method M]`: the decision the
 * sidecar would make, with every reason. Exit 0 allow, 1 deny, 2 usage or policy error.
 */
import { readFile } from 'node:fs/promises';
import { CHECK_FLAGS, CHECK_USAGE } from '../src/config/check-flags.js';
import { parseFlags } from '../src/config/flags.js';
import { KeyStore } from '../src/keys/store.js';
import { compilePolicy } from '../src/policy/compile.js';
import { parsePolicyDocuments } from '../src/policy/load.js';
import { formatFieldErrors } from '../src/policy/validate.js';
import { policyWarnings } from '../src/policy/warnings.js';
import { explainRequest, type Explained } from '../src/decide/explain.js';
import { EnforcementState } from '../src/decide/state.js';
import { TokenVerifier } from '../src/token/verify.js';

export async function main(argv: string[]): Promise<number> {
  let flags;
  try {
    flags = parseFlags('check', CHECK_FLAGS, argv);
  } catch (err) {
    return usageError((err as Error).message);
  }
  const { help, values } = flags;
  if (help) {
    process.stdout.write(CHECK_USAGE);
    return 0;
  }
  if (!values.policy) return usageError('--policy FILE is required');
  if (!values.token) return usageError('--token TOKEN is required (or --token - to read it from stdin)');
  const token = values.token === '-' ? (await readStdin()).trim() : values.token;

  let text: string;
  try {
    text = await readFile(values.policy, 'utf8');
  } catch (err) {
    return usageError(`cannot read ${values.policy}: ${(err as Error).message}`);
  }
  const parsed = parsePolicyDocuments(text, { standalone: true });
  if (!parsed.ok)
    return usageError(`${values.policy} is not a valid policy file:\n${formatFieldErrors(parsed.errors)}`);
  const policy = compilePolicy(parsed.value.policy);
  const active = new EnforcementState().apply(policy, parsed.value.revocations, Date.now());

  const keys = new KeyStore({ retryIntervalMs: 60_000 });
  try {
    await keys.sync(policy.issuers.values());
    const result = await explainRequest(
      active,
      new TokenVerifier(keys),
      {
        token,
        path: values.path ?? CHECK_FLAGS.path.default,
        method: values.method ?? CHECK_FLAGS.method.default,
      },
      Date.now() / 1000,
    );
    process.stdout.write(render(result, policy.name, keys.status()));
    // Risky but valid settings: on stderr, so scripts reading the decision are not disturbed.
    for (const w of policyWarnings(policy)) process.stderr.write(`warning: ${w.reason}: ${w.message}\n`);
    return result.decision === 'allow' ? 0 : 1;
  } finally {
    keys.close();
  }
}

function render(r: Explained, policy: string, issuers: ReturnType<KeyStore['status']>): string {
  const lines = [
    `decision: ${r.decision.toUpperCase()}${r.decision === 'deny' && r.mode === 'Audit' ? ' (Audit mode: would be forwarded)' : ''}`,
  ];
  lines.push(`policy:   ${policy} (mode ${r.mode})`);
  lines.push(
    `request:  ${r.path} → rule ${r.rule ? `${r.rule.name} (${r.rule.action})` : '(none: Authenticate)'}`,
  );
  if (r.token) {
    const t = r.token;
    const when = (v: unknown): string =>
      typeof v === 'number' ? `${new Date(v * 1000).toISOString()}` : 'absent';
    lines.push(
      `token:    fingerprint ${t.fingerprint ?? '?'}, iss ${fmt(t.iss)}, sub ${fmt(t.sub)}, jti ${fmt(t.jti)}`,
    );
    lines.push(`          iat ${when(t.iat)}, exp ${when(t.exp)}`);
  }
  for (const i of issuers.filter((s) => !s.ready)) {
    lines.push(`keys:     ${i.issuer}: not fetched${i.lastError ? ` (${i.lastError})` : ''}`);
  }
  if (r.reasons.length === 0) lines.push('reasons:  none: every check passed');
  else {
    lines.push('reasons:');
    for (const reason of r.reasons) lines.push(`  - ${reason.reason}: ${reason.description}`);
  }
  return `${lines.join('\n')}\n`;
}

function fmt(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : v === undefined ? 'absent' : JSON.stringify(v);
}

function usageError(message: string): number {
  process.stderr.write(`tokenwarden check: ${message}\n`);
  return 2;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
