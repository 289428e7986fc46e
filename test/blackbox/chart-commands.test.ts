/**
 * The command lines the cluster runs parse with the CLI's real argument parsers (the built
 * `tokenwarden` from dist/): the operator Deployment's args as the chart renders them, and the
 * sidecar and capture args the injection contract (docs/contracts/in-cluster.md) prescribes.
 * Plus the image those commands run in: entrypoint, user, memory flags.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseSidecarArgs } from '../../src/config/sidecar.js';
import { helmOrSkipReason, helmTemplate, ROOT, type K8sObject } from '../unit/chart/helm.js';
import { readRepoFile } from '../unit/chart/metric-names.js';

const CLI = join(ROOT, 'dist/cmd/tokenwarden.js');
const contract = readRepoFile('docs/contracts/in-cluster.md');

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return promisify(execFile)(process.execPath, [CLI, ...args], { timeout: 20_000 }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (err: { code?: number; stdout?: string; stderr?: string }) => ({
      code: typeof err.code === 'number' ? err.code : -1,
      stdout: err.stdout ?? '',
      stderr: err.stderr ?? '',
    }),
  );
}

/** The contract's backticked command that starts with `start`, placeholders filled. */
function contractCommand(start: string, fill: Record<string, string>): string[] {
  const text = contract.replace(/\n\s+/g, ' ');
  const m = new RegExp('`(' + start + ' [^`]+)`').exec(text);
  if (!m) throw new Error(`no \`${start} …\` command in docs/contracts/in-cluster.md`);
  let cmd = m[1]!;
  for (const [k, v] of Object.entries(fill)) cmd = cmd.split(k).join(v);
  return cmd.split(/\s+/);
}

const helm = helmOrSkipReason();

describe.skipIf(!helm)('the operator Deployment the chart renders', () => {
  it('its args parse and validate with `tokenwarden operator`', async () => {
    const objs = await helmTemplate(helm!);
    const deployment = objs.find((o) => o.kind === 'Deployment') as
      | (K8sObject & {
          spec: {
            template: { spec: { containers: { name: string; args: string[]; env?: { name: string }[] }[] } };
          };
        })
      | undefined;
    const container = deployment?.spec.template.spec.containers.find((c) => c.name === 'operator');
    expect(container?.args[0]).toBe('operator');
    // kubelet expands $(VAR) from the container's env; every variable used must be declared.
    const declared = new Set((container!.env ?? []).map((e) => e.name));
    const args = container!.args.slice(1).map((a) =>
      a.replace(/\$\(([A-Z_]+)\)/g, (_, name: string) => {
        expect(declared.has(name), `${name} is declared in env`).toBe(true);
        return 'tokenwarden-system';
      }),
    );
    // The injection settings file is the chart's own Secret, mounted in the pod: give the
    // CLI the rendered content at a local path, so it is parsed and validated too.
    const settings = objs.find(
      (o) =>
        o.kind === 'Secret' &&
        typeof (o as { stringData?: Record<string, string> }).stringData?.['injection.json'] === 'string',
    ) as { stringData: Record<string, string> } | undefined;
    expect(settings, 'the chart renders the injection settings Secret').toBeDefined();
    const dir = await mkdtemp(join(tmpdir(), 'tw-chart-'));
    const file = join(dir, 'injection.json');
    await writeFile(file, settings!.stringData['injection.json']!);
    const local = args.map((a) => (a.startsWith('--injection-config=') ? `--injection-config=${file}` : a));
    expect(local).toContain(`--injection-config=${file}`);
    // Config is validated before the kubeconfig is read: reaching the kubeconfig error means
    // every chart flag was accepted.
    const res = await cli(['operator', ...local, '--kubeconfig', '/nonexistent/tokenwarden-kubeconfig']);
    await rm(dir, { recursive: true, force: true });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('cannot load /nonexistent/tokenwarden-kubeconfig');
  });

  it('a flag the parser does not know is refused (the check can fail)', async () => {
    const res = await cli([
      'operator',
      '--lease-nmae=x',
      '--kubeconfig',
      '/nonexistent/tokenwarden-kubeconfig',
    ]);
    expect(res.code).toBe(2);
    expect(res.stderr).not.toContain('cannot load');
  });
});

describe('the injected commands of the contract', () => {
  it('the capture init container args are accepted by `tokenwarden capture` (dry run)', async () => {
    const argv = contractCommand('tokenwarden capture', { ' P ': ' 8080 ' });
    expect(argv.slice(0, 2)).toEqual(['tokenwarden', 'capture']);
    const res = await cli([...argv.slice(1), '--dry-run']);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toContain(
      '-A TOKENWARDEN_INBOUND -p tcp -m tcp --dport 8080 -j TOKENWARDEN_IN_REDIRECT',
    );
    expect(res.stdout).toContain('-A TOKENWARDEN_OUTPUT -m owner --uid-owner 15080 -j RETURN');
    expect(res.stdout).toContain('REDIRECT --to-ports 15080');
  });

  it('the sidecar args use only flags `tokenwarden sidecar` knows', async () => {
    const argv = contractCommand('sidecar --control-plane', {
      '<operatorNs>': 'tokenwarden-system',
      '<targetPort>': '8080',
    });
    // --help is answered only after every flag parsed: exit 0 means all are known.
    const res = await cli([...argv, '--help']);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
  });

  it('the sidecar args validate as a control-plane sidecar config', () => {
    const argv = contractCommand('sidecar --control-plane', {
      '<operatorNs>': 'tokenwarden-system',
      '<targetPort>': '8080',
    });
    expect(parseSidecarArgs(argv.slice(1), {}).help).toBe(false);
  });
});

describe('the image', () => {
  const dockerfile = readRepoFile('Dockerfile');
  const stages = dockerfile.split(/^FROM /m).slice(1);
  const runtime = stages.at(-1)!;

  it('runs `tokenwarden` as the entrypoint, as the non-root UID the capture rules exempt', () => {
    expect(runtime).toMatch(/^ENTRYPOINT \["tokenwarden"\]$/m);
    expect(runtime).toMatch(/ln -s \/app\/dist\/cmd\/tokenwarden\.js \/usr\/local\/bin\/tokenwarden/);
    expect(contract).toContain('Runs as UID/GID 15080');
    expect(runtime).toMatch(/^USER 15080:15080$/m);
    const captureArgs = contractCommand('tokenwarden capture', { ' P ': ' 8080 ' });
    expect(captureArgs[captureArgs.indexOf('--proxy-uid') + 1]).toBe('15080');
  });

  it('pins its base by tag with no made-up digest, ships production dependencies and iptables, sets no NODE_OPTIONS', () => {
    // No digest was obtained (no registry here): the base is a tag, and the file says how to pin one.
    expect(dockerfile).toMatch(/^ARG BASE_IMAGE=node:20[\w.-]*-bookworm-slim$/m);
    expect(dockerfile).not.toMatch(/sha256:[0-9a-f]{64}/);
    expect(dockerfile).toMatch(/imagetools inspect node:20-bookworm-slim/);
    expect(stages.every((s) => s.startsWith('${BASE_IMAGE}'))).toBe(true);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(runtime).toMatch(/COPY --from=deps \/app\/node_modules/);
    expect(runtime).toMatch(/apt-get install -y --no-install-recommends iptables/);
    // The sidecar sets its own V8 settings (ADR 0008): the image runs exactly what the benchmark
    // measures, `tokenwarden sidecar` with no node flags.
    expect(runtime).not.toMatch(/^ENV NODE_OPTIONS/m);
    expect(readRepoFile('src/sidecar/v8-settings.ts')).toContain('--semi-space-growth-factor');
  });
});
