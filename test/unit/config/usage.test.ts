/**
 * Each command's usage text against its parser, both ways: every flag the usage names is
 * accepted by the parser (with a value when the usage shows one, without when it shows none),
 * and every flag the parser accepts is in the usage with its default. The parser is asked, not
 * the table: `--flag value --help` parses to help only when the flag is known and takes a value.
 */
import { describe, expect, it } from 'vitest';
import { CAPTURE_FLAGS, CAPTURE_USAGE, parseCaptureArgs } from '../../../src/config/capture.js';
import { CHECK_FLAGS, CHECK_USAGE } from '../../../src/config/check-flags.js';
import { defaultClause, parseArgsOptions, parseFlags, type FlagTable } from '../../../src/config/flags.js';
import { OPERATOR_FLAGS, OPERATOR_USAGE, parseOperatorFlags } from '../../../src/config/operator.js';
import { REVOKE_FLAGS, REVOKE_USAGE } from '../../../src/config/revoke-flags.js';
import { SIDECAR_FLAGS, SIDECAR_USAGE, parseSidecarArgs } from '../../../src/config/sidecar.js';

interface Command {
  name: string;
  usage: string;
  table: FlagTable;
  /** True when argv parsed to "help" (every flag before it known and well-formed). */
  helps: (argv: string[]) => boolean;
}

const COMMANDS: Command[] = [
  {
    name: 'sidecar',
    usage: SIDECAR_USAGE,
    table: SIDECAR_FLAGS,
    helps: (argv) => parseSidecarArgs(argv, {}).help,
  },
  {
    name: 'operator',
    usage: OPERATOR_USAGE,
    table: OPERATOR_FLAGS,
    helps: (argv) => parseOperatorFlags(argv).help,
  },
  {
    name: 'capture',
    usage: CAPTURE_USAGE,
    table: CAPTURE_FLAGS,
    helps: (argv) => parseCaptureArgs(argv).help,
  },
  {
    name: 'check',
    usage: CHECK_USAGE,
    table: CHECK_FLAGS,
    helps: (argv) => parseFlags('check', CHECK_FLAGS, argv).help,
  },
  {
    name: 'revoke',
    usage: REVOKE_USAGE,
    table: REVOKE_FLAGS,
    helps: (argv) => parseFlags('revoke', REVOKE_FLAGS, argv).help,
  },
];

/** The flag lines of a usage text: `  [-x, ]--name [ARG]`. */
function usageFlags(usage: string): Map<string, { arg: boolean; text: string }> {
  const flags = new Map<string, { arg: boolean; text: string }>();
  const lines = usage.slice(usage.indexOf('\nflags:\n')).split('\n');
  lines.forEach((line, i) => {
    const m = /^ {2}(?:-[a-z], )?--([a-z0-9-]+)(?: ([A-Z][A-Z0-9:]*))?(?: |$)/.exec(line);
    if (!m) return;
    // The flag's text runs to the next flag line.
    let text = line;
    for (let j = i + 1; j < lines.length && /^ {4,}\S/.test(lines[j]!); j++) text += ` ${lines[j]!.trim()}`;
    flags.set(m[1]!, { arg: m[2] !== undefined, text: text.replace(/\s+/g, ' ') });
  });
  return flags;
}

describe.each(COMMANDS)('tokenwarden $name --help', ({ usage, table, helps }) => {
  const listed = usageFlags(usage);

  it('names only flags the parser accepts, each as it takes a value', () => {
    expect(listed.size).toBeGreaterThan(1);
    for (const [flag, { arg }] of listed) {
      if (flag === 'help') continue;
      expect(helps([`--${flag}`, ...(arg ? ['1'] : []), '--help']), flag).toBe(true);
      // The other way round must fail: the usage says what the flag takes.
      expect(() => helps([`--${flag}`, ...(arg ? [] : ['1']), '--help']), flag).toThrow();
    }
  });

  it('names every flag the parser accepts, with its default', () => {
    const accepted = Object.keys(parseArgsOptions(table));
    expect(accepted.sort()).toEqual([...listed.keys()].sort());
    for (const [flag, spec] of Object.entries(table)) {
      expect(listed.get(flag)?.text, flag).toContain(defaultClause(spec).trim());
    }
  });

  it('refuses a flag it does not name', () => {
    expect(() => helps(['--no-such-flag', '1', '--help'])).toThrow(/no-such-flag/);
  });
});
