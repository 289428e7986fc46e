/**
 * The pino root logger. Made once per process in cmd/, handed down; components take children
 * (`log.child({ component })`). The Authorization header and anything named like a token are
 * redacted as a second line of defence: the code never puts a raw token in a log record.
 */
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

export interface LoggerOptions {
  level?: string;
  destination?: DestinationStream;
}

export const REDACT_PATHS = [
  'authorization',
  'token',
  'req.headers.authorization',
  'headers.authorization',
  '*.authorization',
  '*.token',
];

export function createLogger(name: string, opts: LoggerOptions = {}): Logger {
  return pino(
    {
      name,
      level: opts.level ?? 'info',
      base: { name },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    opts.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
