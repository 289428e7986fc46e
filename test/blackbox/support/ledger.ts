/**
 * Every token the black-box suite sends, and every line every sidecar printed, kept on disk for
 * the whole run (test files run in separate processes; the vitest parent's pid names the run).
 * `assertNoTokenInLogs` then checks all logs seen so far against all tokens seen so far: the
 * last file to run checks the whole suite.
 */
import { appendFileSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const PREFIX = 'tokenwarden-blackbox-';
const RUN_DIR = join(tmpdir(), `${PREFIX}${process.ppid}`);

// Ledgers of earlier runs: kept a few hours for a post-mortem, then removed.
for (const name of readdirSync(tmpdir())) {
  if (!name.startsWith(PREFIX) || join(tmpdir(), name) === RUN_DIR) continue;
  try {
    if (Date.now() - statSync(join(tmpdir(), name)).mtimeMs > 6 * 3600_000) {
      rmSync(join(tmpdir(), name), { recursive: true, force: true });
    }
  } catch {
    // another run removed it first
  }
}
const TOKENS = join(RUN_DIR, 'tokens.txt');
const LOG_DIR = join(RUN_DIR, 'logs');
mkdirSync(LOG_DIR, { recursive: true });

/** Shorter strings could occur in a log by chance (a 4-character garbage signature). */
const MIN_SECRET_LENGTH = 16;

const recorded = new Set<string>();

/** Remembers a token (and its signature part) that was, or may be, sent to a sidecar. */
export function recordToken(token: string): void {
  if (token.length < MIN_SECRET_LENGTH || recorded.has(token)) return;
  recorded.add(token);
  appendFileSync(TOKENS, `${token}\n`);
}

/** A file to which a sidecar's output is appended as it arrives. */
export function logFile(name: string): string {
  return join(LOG_DIR, `${process.pid}-${name}.log`);
}

/** The secrets to look for: each token, and each token's signature part when long enough. */
export function secrets(): string[] {
  let text = '';
  try {
    text = readFileSync(TOKENS, 'utf8');
  } catch {
    return [];
  }
  const out = new Set<string>();
  for (const token of text.split('\n')) {
    if (token.length < MIN_SECRET_LENGTH) continue;
    out.add(token);
    const signature = token.slice(token.lastIndexOf('.') + 1);
    if (token.includes('.') && signature.length >= MIN_SECRET_LENGTH) out.add(signature);
  }
  return [...out];
}

/** Every log captured so far in this run, by file name. */
export function allLogs(): Map<string, string> {
  const logs = new Map<string, string>();
  for (const name of readdirSync(LOG_DIR)) logs.set(name, readFileSync(join(LOG_DIR, name), 'utf8'));
  return logs;
}

/** Leaks: `[log file, first characters of the secret]` for every secret found in any log. */
export function tokenLeaks(): { logs: number; secrets: number; leaks: [string, string][] } {
  const all = secrets();
  const logs = allLogs();
  const leaks: [string, string][] = [];
  for (const [name, text] of logs) {
    for (const s of all) if (text.includes(s)) leaks.push([name, `${s.slice(0, 24)}…`]);
  }
  return { logs: logs.size, secrets: all.length, leaks };
}

/** `sub` and `jti` values of every recorded token whose payload decodes. */
export function identities(): { subs: Set<string>; jtis: Set<string> } {
  const subs = new Set<string>();
  const jtis = new Set<string>();
  let text = '';
  try {
    text = readFileSync(TOKENS, 'utf8');
  } catch {
    return { subs, jtis };
  }
  for (const token of text.split('\n')) {
    const payload = token.split('.')[1];
    if (payload === undefined) continue;
    try {
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<
        string,
        unknown
      >;
      if (typeof claims.sub === 'string') subs.add(claims.sub);
      if (typeof claims.jti === 'string') jtis.add(claims.jti);
    } catch {
      // not a JWT payload: nothing to collect
    }
  }
  return { subs, jtis };
}
