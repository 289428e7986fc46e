/**
 * `tokenwarden capture` flags → one frozen, typed config. The only place the capture init
 * container reads its command line.
 */
import { parseArgs } from 'node:util';
import { ConfigError } from './listen.js';

export { ConfigError } from './listen.js';

/** Which iptables binaries: `auto` detects the one the namespace already uses, as Istio does. */
export type IptablesMode = 'auto' | 'nft' | 'legacy';
/** `auto`: IPv6 rules whenever the namespace has IPv6 (fatal on failure); `on`: even when it seems absent; `off`: never (the platform's choice). */
export type Ipv6Mode = 'auto' | 'on' | 'off';

export interface CaptureConfig {
  readonly targetPorts: readonly number[];
  readonly proxyPort: number;
  readonly proxyUid: number;
  readonly iptables: IptablesMode;
  readonly ipv6: Ipv6Mode;
  readonly dryRun: boolean;
}

export const CAPTURE_USAGE = `usage: tokenwarden capture --target-port P [--target-port P2 ...] [flags]

Installs the pod's traffic capture (run as the first init container, with NET_ADMIN and
NET_RAW): inbound TCP to each target port is redirected to the sidecar's proxy port; the
sidecar's own connections (its UID) and loopback traffic are not. IPv4 and IPv6. Idempotent:
running it again leaves one copy of every rule. Exits 1, with the reason, when the rules
cannot be applied, so the pod never starts half-captured.

flags:
  --target-port P      app port to capture (repeat, or comma-separated; required)
  --proxy-port P       the sidecar's proxy port (default 15080)
  --proxy-uid UID      the sidecar's UID, exempt from capture (default 15080)
  --iptables MODE      auto|nft|legacy (default auto: the variant with rules already in the
                       namespace, else nft when installed, else legacy)
  --ipv6 MODE          auto|on|off (default auto: applied whenever the namespace has IPv6,
                       link-local only included, and any failure is fatal; off: the platform
                       disabled IPv6 capture, set by injection settings, never by a pod)
  --dry-run            print the iptables-restore input and exit; changes nothing
  -h, --help           this text

exit codes: 0 applied (or printed), 1 rules not applied, 2 usage error
`;

export type ParsedCapture = { help: true } | { help: false; config: CaptureConfig };

export function parseCaptureArgs(argv: string[]): ParsedCapture {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        'target-port': { type: 'string', multiple: true },
        'proxy-port': { type: 'string' },
        'proxy-uid': { type: 'string' },
        iptables: { type: 'string' },
        ipv6: { type: 'string' },
        'dry-run': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new ConfigError(`${(err as Error).message}; run 'tokenwarden capture --help'`);
  }
  if (values.help) return { help: true };
  const raw = (values['target-port'] ?? []).flatMap((v) => v.split(','));
  if (raw.length === 0) throw new ConfigError('--target-port P is required (the app port to capture)');
  const proxyPort = port('proxy-port', values['proxy-port'] ?? '15080');
  const targetPorts = [...new Set(raw.map((v) => port('target-port', v.trim())))];
  if (targetPorts.includes(proxyPort)) {
    throw new ConfigError(`--target-port ${proxyPort} is the proxy port; capture would loop`);
  }
  const uidText = values['proxy-uid'] ?? '15080';
  if (!/^\d{1,10}$/.test(uidText) || Number(uidText) > 0xfffffffe) {
    throw new ConfigError(`--proxy-uid: expected a numeric UID, got "${uidText}"`);
  }
  return {
    help: false,
    config: Object.freeze({
      targetPorts: Object.freeze(targetPorts),
      proxyPort,
      proxyUid: Number(uidText),
      iptables: oneOf('iptables', values.iptables ?? 'auto', ['auto', 'nft', 'legacy'] as const),
      ipv6: oneOf('ipv6', values.ipv6 ?? 'auto', ['auto', 'on', 'off'] as const),
      dryRun: values['dry-run'] ?? false,
    }),
  };
}

function port(flag: string, value: string): number {
  const n = Number(value);
  if (!/^\d{1,5}$/.test(value) || n < 1 || n > 65535) {
    throw new ConfigError(`--${flag}: expected a port 1..65535, got "${value}"`);
  }
  return n;
}

function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new ConfigError(`--${flag}: expected one of ${allowed.join('|')}, got "${value}"`);
  }
  return value as T;
}
