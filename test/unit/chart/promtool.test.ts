/**
 * The chart's alert rules through the real promtool (built from the Go module proxy by
 * hack/k8s-testbin/build.sh, cached by version): `check rules` on files/alerts.yaml and
 * `test rules` on test/promtool/*.yaml. Without the binary the suite is skipped with the reason
 * printed; with CI=true (where .ci/run builds it) it fails instead.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { readRepoFile } from './metric-names.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

function promtoolPath(): string | undefined {
  const version = /^PROMTOOL_VERSION=(\S+)$/m.exec(readRepoFile('hack/k8s-testbin/versions.env'))?.[1];
  const cache =
    process.env.TOKENWARDEN_TESTBIN_CACHE ??
    join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'tokenwarden', 'k8s-testbin');
  const candidates = [
    process.env.TOKENWARDEN_TESTBIN_DIR ? join(process.env.TOKENWARDEN_TESTBIN_DIR, 'promtool') : '',
    version ? join(cache, `promtool-${version}`, 'promtool') : '',
  ];
  return candidates.find((c) => c && existsSync(c));
}

const promtool = promtoolPath();
if (!promtool) {
  const message = 'promtool tests skipped: no promtool binary (run: bash hack/k8s-testbin/build.sh promtool)';
  if (process.env.CI === 'true') throw new Error(`${message}; CI must run them`);
  console.warn(`\n*** ${message} ***\n`);
}

describe.skipIf(!promtool)('alert rules through promtool', () => {
  const tool = promtool!;

  it('promtool check rules accepts files/alerts.yaml', async () => {
    const { stdout } = await run(tool, ['check', 'rules', 'charts/tokenwarden/files/alerts.yaml'], {
      cwd: ROOT,
    });
    expect(stdout).toMatch(/SUCCESS: 7 rules found/);
  });

  const tests = readdirSync(join(ROOT, 'test/promtool')).filter((f) => f.endsWith('.yaml'));

  it.each(tests)('promtool test rules %s', async (file) => {
    const result = await run(tool, ['test', 'rules', join('test/promtool', file)], { cwd: ROOT }).then(
      (r) => ({ code: 0, out: r.stdout + r.stderr }),
      (err: { code?: number; stdout?: string; stderr?: string }) => ({
        code: err.code ?? 1,
        out: `${err.stdout ?? ''}${err.stderr ?? ''}`,
      }),
    );
    expect(result.out).toContain('SUCCESS');
    expect(result.code, result.out).toBe(0);
  });

  it('promtool test rules fails on an expectation the rules do not meet', async () => {
    // Guards the harness: a wrong expected alert must make promtool exit non-zero.
    const dir = mkdtempSync(join(tmpdir(), 'tokenwarden-promtool-'));
    try {
      const copy = join(dir, 'wrong.test.yaml');
      const text = readRepoFile('test/promtool/alerts.test.yaml')
        .replace('pod: orders-1', 'pod: orders-2')
        .replace(
          '../../charts/tokenwarden/files/alerts.yaml',
          join(ROOT, 'charts/tokenwarden/files/alerts.yaml'),
        );
      writeFileSync(copy, text);
      await expect(run(tool, ['test', 'rules', copy])).rejects.toMatchObject({ code: 1 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
