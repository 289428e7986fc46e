#!/usr/bin/env node
/**
 * `tokenwarden` entry point: picks the subcommand and hands it argv. Each subcommand module
 * parses its own flags and returns an exit code; no decisions are made here.
 */
import { main as sidecar } from './sidecar.js';
import { main as check } from './check.js';
import { main as operator } from './operator.js';
import { main as revoke } from './revoke.js';

type Subcommand = (argv: string[]) => Promise<number>;

const SUBCOMMANDS: Record<string, { run: Subcommand; summary: string }> = {
  sidecar: { run: sidecar, summary: 'run the enforcing reverse proxy in front of an app' },
  check: { run: check, summary: 'decide one token against a policy file and print every reason' },
  operator: { run: operator, summary: 'run the Kubernetes operator' },
  revoke: { run: revoke, summary: 'create a TokenRevocation in the current cluster' },
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
  return sub.run(rest);
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
