/** `HOST:PORT` flag values, validated at the edge with an error naming the flag. */
export interface ListenAddress {
  host: string;
  port: number;
}

export function parseListen(flag: string, value: string): ListenAddress {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(
      `--${flag}: expected HOST:PORT (e.g. 0.0.0.0:15080 or [::1]:15080), got "${value}"`,
    );
  }
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

/** A configuration error: cmd/ prints the message on one line and exits 2. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}
