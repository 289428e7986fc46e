/**
 * The raw price of one signature check, measured in the same run as the proxies: one public
 * key per algorithm imported once as a KeyObject, then `crypto.verify` on a real bench token's
 * signature, repeated until `--ms` milliseconds of CPU time (bounded by a count). Started by
 * bench/run.ts pinned to the proxy CPU. Prints one line: VERIFY_RESULT {"RS256":µs,"ES256":µs}.
 *
 * Usage: node dist/bench/verify-cost.js --ms 500 ALG PEM_FILE TOKEN_FILE [ALG PEM_FILE TOKEN_FILE]
 */
import { createPublicKey, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const MAX_VERIFIES = 200_000;
const BATCH = 50;

function cpuUs(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

function microsPerVerify(alg: string, key: KeyObject, token: string, budgetMs: number): number {
  const dot = token.lastIndexOf('.');
  const data = Buffer.from(token.slice(0, dot));
  const signature = Buffer.from(token.slice(dot + 1), 'base64url');
  const options = alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' as const } : key;
  const once = (): boolean => verify('sha256', data, options, signature);
  // A cost of a failing check would be a different (and wrong) number.
  if (!once()) throw new Error(`${alg}: the sample token's signature does not verify`);
  for (let i = 0; i < BATCH * 4; i++) once();
  const start = cpuUs();
  let count = 0;
  while (count < MAX_VERIFIES && cpuUs() - start < budgetMs * 1000) {
    for (let i = 0; i < BATCH; i++) once();
    count += BATCH;
  }
  return (cpuUs() - start) / count;
}

const { values, positionals } = parseArgs({
  options: { ms: { type: 'string', default: '500' } },
  allowPositionals: true,
});
const budgetMs = Number(values.ms);
if (!(budgetMs > 0) || positionals.length === 0 || positionals.length % 3 !== 0) {
  console.error('usage: verify-cost.js --ms N ALG PEM_FILE TOKEN_FILE [ALG PEM_FILE TOKEN_FILE]');
  process.exit(2);
}
const result: Record<string, number> = {};
for (let i = 0; i < positionals.length; i += 3) {
  const [alg, pemFile, tokenFile] = positionals.slice(i, i + 3) as [string, string, string];
  if (alg !== 'RS256' && alg !== 'ES256') throw new Error(`unsupported algorithm ${alg}`);
  const key = createPublicKey(readFileSync(pemFile));
  const token = readFileSync(tokenFile, 'utf8').split('\n')[0]?.trim() ?? '';
  result[alg] = microsPerVerify(alg, key, token, budgetMs);
}
console.log(`VERIFY_RESULT ${JSON.stringify(result)}`);
