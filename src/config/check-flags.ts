/** `tokenwarden check`: every flag, its default and help, written once (parser and usage text). */
import { flagLines, type FlagTable } from './flags.js';

export const CHECK_FLAGS = {
  policy: { arg: 'FILE', help: 'policy file (TokenPolicy + TokenRevocation documents)' },
  token: { arg: 'TOKEN', help: 'the bearer token, or - for stdin' },
  path: {
    arg: 'P',
    default: '/',
    help: 'request target, path and optional query, as a client sends it',
  },
  method: { arg: 'M', default: 'GET', help: 'request method' },
} as const satisfies FlagTable;

export const CHECK_USAGE = `usage: tokenwarden check --policy FILE --token TOKEN [--path P] [--method M]

Decides one token against a policy file, exactly as the sidecar would, and prints the
decision and every reason (not only the first). Reuse is not counted.
Pass --token - to read the token from standard input (keeps it out of shell history).

flags:
${flagLines(CHECK_FLAGS, 18)}
exit codes: 0 allow, 1 deny, 2 usage or policy error
`;
