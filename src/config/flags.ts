/**
 * One table of flags per command, from which both the parser (`node:util` parseArgs options,
 * defaults, bounds) and the usage text are made, so a default is written once. A command's
 * table lists every flag it accepts; `--help` is added here.
 */
import { parseArgs } from 'node:util';
import { ConfigError } from './listen.js';

export interface FlagSpec {
  /** The value's placeholder in the usage text (`N`, `FILE`); absent: a switch (boolean). */
  readonly arg?: string;
  /** Repeatable: the parser returns every value given. */
  readonly multiple?: boolean;
  readonly short?: string;
  /** Used when neither the flag nor its environment variable is given; absent: none. */
  readonly default?: number | string;
  /** How the default reads in the usage text when it is not `default` itself (`budget/16`). */
  readonly defaultText?: string;
  /** Unit of the value and of `default` (`ms`, `s`, `bytes`, `bytes/s`). */
  readonly unit?: string;
  /** Inclusive bounds of a number (the parser's check); absent: the parser's own rule. */
  readonly min?: number;
  readonly max?: number;
  /** The only values accepted, listed in the usage text before `help`. */
  readonly choices?: readonly string[];
  /** The environment variable read when the flag is absent. */
  readonly env?: string;
  /** What the flag does, one line ('' when `choices` say it all). */
  readonly help: string;
  /** More about it, printed after the default. */
  readonly note?: string;
}

export type FlagTable = Readonly<Record<string, FlagSpec>>;

/** What the parser returns for each flag of `T` (absent: not given). */
export type FlagValues<T extends FlagTable> = {
  readonly [K in keyof T]?: T[K] extends { arg: string }
    ? T[K] extends { multiple: true }
      ? string[]
      : string
    : boolean;
};

type ParseArgsOption = { type: 'string' | 'boolean'; multiple?: boolean; short?: string };

/** The `node:util` parseArgs options of a table, `--help` included. */
export function parseArgsOptions(table: FlagTable): Record<string, ParseArgsOption> {
  const options: Record<string, ParseArgsOption> = { help: { type: 'boolean', short: 'h' } };
  for (const [name, f] of Object.entries(table)) {
    const o: ParseArgsOption = { type: f.arg === undefined ? 'boolean' : 'string' };
    if (f.multiple === true) o.multiple = true;
    if (f.short !== undefined) o.short = f.short;
    options[name] = o;
  }
  return options;
}

/**
 * argv → the table's flags, strictly (an unknown flag or a positional argument is a
 * ConfigError pointing at `tokenwarden <command> --help`). Defaults are not filled in here.
 */
export function parseFlags<T extends FlagTable>(
  command: string,
  table: T,
  argv: string[],
): { help: boolean; values: FlagValues<T> } {
  try {
    const { values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: parseArgsOptions(table),
    });
    const { help, ...rest } = values;
    return { help: help === true, values: rest as FlagValues<T> };
  } catch (err) {
    throw new ConfigError(`${(err as Error).message}; run 'tokenwarden ${command} --help'`);
  }
}

/** The default as text, as the parser reads a flag's value. */
export function defaultString(f: FlagSpec): string {
  if (f.default === undefined) throw new Error('flag table: no default');
  return String(f.default);
}

/** The usage text's `(default …)` for one flag, or '' without one. */
export function defaultClause(f: FlagSpec): string {
  const shown = f.defaultText ?? (f.default === undefined ? undefined : String(f.default));
  const parts: string[] = [];
  if (shown !== undefined) {
    const unit = f.unit !== undefined && f.defaultText === undefined ? ` ${f.unit}` : '';
    parts.push(`default ${shown}${unit}`);
  }
  if (f.env !== undefined) parts.push(`env ${f.env}`);
  return parts.length === 0 ? '' : ` (${parts.join(', ')})`;
}

const WIDTH = 100;

function wrap(text: string, first: number, indent: number): string[] {
  const lines: string[] = [];
  let line = '';
  let room = WIDTH - first;
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > room) {
      lines.push(line);
      line = word;
      room = WIDTH - indent;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  lines.push(line);
  return lines;
}

/**
 * The `flags:` block of a usage text: `  --name ARG` in a column of `column` characters, then
 * the help, its default and its note, wrapped; a name too long for the column gets a line of
 * its own. `-h, --help` ends it.
 */
export function flagLines(table: FlagTable, column: number): string {
  const rows = Object.entries(table).map(([name, f]) => {
    const head = `  ${f.short === undefined ? '' : `-${f.short}, `}--${name}${f.arg === undefined ? '' : ` ${f.arg}`}`;
    const note = f.note === undefined ? '' : `; ${f.note}`;
    const what = [f.choices?.join('|'), f.help].filter((t) => t !== undefined && t !== '').join(': ');
    return [head, `${what}${defaultClause(f)}${note}`] as const;
  });
  rows.push(['  -h, --help', 'this text']);
  const pad = ' '.repeat(column);
  const out: string[] = [];
  for (const [head, text] of rows) {
    const body = wrap(text, column, column);
    if (head.length < column) out.push(head.padEnd(column) + body[0]);
    else out.push(head, pad + body[0]);
    for (const more of body.slice(1)) out.push(pad + more);
  }
  return `${out.join('\n')}\n`;
}

/**
 * An integer flag's value within the spec's bounds (`min` absent: 0), with an error naming the
 * flag. With `min: 1` and no `max` the message says "a positive integer".
 */
export function integerFlag(flag: string, f: FlagSpec, value: string): number {
  const n = Number(value);
  const min = f.min ?? 0;
  const max = f.max ?? Number.MAX_SAFE_INTEGER;
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
    const expected =
      min === 1 && f.max === undefined ? 'a positive integer' : `an integer ${min}..${f.max ?? 'any'}`;
    throw new ConfigError(`--${flag}: expected ${expected}, got "${value}"`);
  }
  return n;
}
