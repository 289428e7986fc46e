/**
 * `tokenwarden capture` flags → one frozen, typed config. The only place the capture init
 * container reads its command line.
 */
import { ConfigError } from './listen.js';
import { PROXY_PORT, SIDECAR_UID } from '../core/ports.js';
import { flagLines, parseFlags, type FlagTable } from './flags.js';

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

const PORT_BOUNDS = { min: 1, max: 65_535 } as const;

export const CAPTURE_FLAGS = {
  'target-port': {
    arg: 'P',
    multiple: true,
    ...PORT_BOUNDS,
    help: 'app port to capture (repeat, or comma-separated; required)',
  },
  'proxy-port': { arg: 'P', default: PROXY_PORT, ...PORT_BOUNDS, help: "the sidecar's proxy port" },
  'proxy-uid': {
    arg: 'UID',
    default: SIDECAR_UID,
    min: 0,
    max: 0xfffffffe,
    help: "the sidecar's UID, exempt from capture",
  },
  iptables: {
    arg: 'MODE',
    default: 'auto',
    choices: ['auto', 'nft', 'legacy'],
    help: '',
    note: 'auto: the variant with rules already in the namespace, else nft when installed, else legacy',
  },
  ipv6: {
    arg: 'MODE',
    default: 'auto',
    choices: ['auto', 'on', 'off'],
    help: '',
    note: 'auto: applied whenever the namespace has IPv6, link-local only included, and any failure is fatal; off: the platform disabled IPv6 capture, set by injection settings, never by a pod',
  },
  'dry-run': { help: 'print the iptables-restore input and exit; changes nothing' },
} as const satisfies FlagTable;

export const CAPTURE_USAGE = `usage: tokenwarden capture --target-port P [--target-port P2 ...] [flags]

Installs the pod's traffic capture (run as the first init container, with NET_ADMIN and
NET_RAW): inbound TCP to each target port is redirected to the sidecar's proxy port; the
sidecar's own connections (its UID) and loopback traffic are not. IPv4 and IPv6. Idempotent:
running it again leaves one copy of every rule. Exits 1, with the reason, when the rules
cannot be applied, so the pod never starts half-captured.

flags:
${flagLines(CAPTURE_FLAGS, 23)}
exit codes: 0 applied (or printed), 1 rules not applied, 2 usage error
`;

export type ParsedCapture = { help: true } | { help: false; config: CaptureConfig };

export function parseCaptureArgs(argv: string[]): ParsedCapture {
  const { help, values } = parseFlags('capture', CAPTURE_FLAGS, argv);
  if (help) return { help: true };
  const raw = (values['target-port'] ?? []).flatMap((v) => v.split(','));
  if (raw.length === 0) throw new ConfigError('--target-port P is required (the app port to capture)');
  const proxyPort = port('proxy-port', values['proxy-port'] ?? String(CAPTURE_FLAGS['proxy-port'].default));
  const targetPorts = [...new Set(raw.map((v) => port('target-port', v.trim())))];
  if (targetPorts.includes(proxyPort)) {
    throw new ConfigError(`--target-port ${proxyPort} is the proxy port; capture would loop`);
  }
  const uidText = values['proxy-uid'] ?? String(CAPTURE_FLAGS['proxy-uid'].default);
  if (!/^\d{1,10}$/.test(uidText) || Number(uidText) > CAPTURE_FLAGS['proxy-uid'].max) {
    throw new ConfigError(`--proxy-uid: expected a numeric UID, got "${uidText}"`);
  }
  return {
    help: false,
    config: Object.freeze({
      targetPorts: Object.freeze(targetPorts),
      proxyPort,
      proxyUid: Number(uidText),
      iptables: oneOf(
        'iptables',
        values.iptables ?? CAPTURE_FLAGS.iptables.default,
        CAPTURE_FLAGS.iptables.choices,
      ),
      ipv6: oneOf('ipv6', values.ipv6 ?? CAPTURE_FLAGS.ipv6.default, CAPTURE_FLAGS.ipv6.choices),
      dryRun: values['dry-run'] ?? false,
    }),
  };
}

function port(flag: string, value: string): number {
  const n = Number(value);
  const { min, max } = PORT_BOUNDS;
  if (!/^\d{1,5}$/.test(value) || n < min || n > max) {
    throw new ConfigError(`--${flag}: expected a port ${min}..${max}, got "${value}"`);
  }
  return n;
}

function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new ConfigError(`--${flag}: expected one of ${allowed.join('|')}, got "${value}"`);
  }
  return value as T;
}
