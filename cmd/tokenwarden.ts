#!/usr/bin/env node
/**
 * `tokenwarden` entry point: picks the subcommand and hands it argv. Each subcommand module
 * parses its own flags and returns an exit code; no decisions are made here.
 */
type Subcommand = (argv: string[]) => Promise<number>;

// Loaded on demand: the sidecar must not pay (in start-up time and RSS) for the Kubernetes
// client the operator needs, and the other way round.
const SUBCOMMANDS: Record<
  string,
  { load: (argv: string[]) => Promise<{ main: Subcommand }>; summary: string }
> = {
  sidecar: {
    load: async (argv) => {
      // Before the sidecar's modules load (src/sidecar/v8-settings.ts): loading alone grows V8's
      // young generation past the budget's share.
      const v8 = await import('../src/sidecar/v8-settings.js');
      v8.applySidecarV8Settings(v8.semiSpaceFromArgs(argv, process.env));
      return import('./sidecar.js');
    },
    summary: 'run the enforcing reverse proxy in front of an app',
  },
  check: {
    load: () => import('./check.js'),
    summary: 'decide one token against a policy file and print every reason',
  },
  operator: { load: () => import('./operator.js'), summary: 'run the Kubernetes operator' },
  revoke: { load: () => import('./revoke.js'), summary: 'create a TokenRevocation in the current cluster' },
  capture: {
    load: () => import('./capture.js'),
    summary: "install the pod's traffic capture (iptables; the injected init container)",
  },
};

function usage(): string {
  const lines = Object.entries(SUBCOMMANDS).map(([name, s]) => `  ${name.padEnd(10)} ${s.summary}`);
  return `usage: tokenwarden <command> [flags]\n\ncommands:\n${lines.join('\n')}\n\nRun 'tokenwarden <command> --help' for a command's flags.\n`;
}

async function run(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  const sub = SUBCOMMANDS[name];
  if (!sub) {
    process.stderr.write(`tokenwarden: unknown command "${name}"; run 'tokenwarden --help' for the list\n`);
    return 2;
  }
  const { main } = await sub.load(rest);
  return main(rest);
}

run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`tokenwarden: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
