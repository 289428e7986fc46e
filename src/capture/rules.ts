/**
 * Traffic capture rules, as iptables-restore input. PURE: options (and, for idempotence, what
 * `iptables-save -t nat` printed) in, rule text out; the runner (src/capture/run.ts) applies it.
 *
 * Inbound only, the way Istio's and Linkerd's init containers capture inbound traffic:
 *
 * - PREROUTING: a new TCP connection that arrives from the network for a target port is
 *   redirected to the sidecar's port. REDIRECT rewrites the destination to the receiving
 *   interface's address, so the sidecar must listen on the wildcard address.
 * - OUTPUT: a connection made inside the pod never passes PREROUTING (loopback packets reach
 *   PREROUTING with their conntrack entry already made in OUTPUT, and the nat table only sees
 *   the first packet of a connection). So a process in the pod that dials the pod's own IP on a
 *   target port would reach the app around the sidecar: it is redirected in OUTPUT too, except
 *   - traffic owned by the sidecar's UID: the sidecar must reach the app (127.0.0.1:P) without
 *     being sent back to itself;
 *   - traffic to the loopback address: containers of one pod talking over localhost share the
 *     pod's trust boundary (as in Istio), and the sidecar's upstream is on loopback.
 *
 * Own chains (TOKENWARDEN_*) are declared in the restore input, which flushes them, and the
 * jumps from the built-in chains are emitted only when `existing` lacks them, so running the
 * init container again (a restarted pod sandbox) leaves one copy of every rule. The caller
 * applies with `--noflush` so rules of other tools in the same network namespace stay.
 */

export type Family = 'ipv4' | 'ipv6';

export interface CaptureOptions {
  /** App ports whose inbound TCP is captured (1..65535, none equal to proxyPort). */
  readonly targetPorts: readonly number[];
  /** The sidecar's proxy port (15080). */
  readonly proxyPort: number;
  /** The sidecar's UID (15080): its own connections are never redirected. */
  readonly proxyUid: number;
}

export const CHAIN_INBOUND = 'TOKENWARDEN_INBOUND';
export const CHAIN_OUTPUT = 'TOKENWARDEN_OUTPUT';
export const CHAIN_REDIRECT = 'TOKENWARDEN_IN_REDIRECT';

const LOOPBACK: Record<Family, string> = { ipv4: '127.0.0.1/32', ipv6: '::1/128' };

/** The two jumps from built-in chains into ours, as `iptables-save` prints them. */
export function jumpRules(): readonly string[] {
  return [`-A PREROUTING -p tcp -j ${CHAIN_INBOUND}`, `-A OUTPUT -p tcp -j ${CHAIN_OUTPUT}`];
}

/** The rules inside our chains, as `iptables-save` prints them (used to verify after apply). */
export function chainRules(options: CaptureOptions, family: Family): readonly string[] {
  const rules = [`-A ${CHAIN_REDIRECT} -p tcp -j REDIRECT --to-ports ${options.proxyPort}`];
  for (const port of options.targetPorts) {
    rules.push(`-A ${CHAIN_INBOUND} -p tcp -m tcp --dport ${port} -j ${CHAIN_REDIRECT}`);
  }
  // Order matters: the sidecar's UID first (it may dial any address), then loopback.
  rules.push(`-A ${CHAIN_OUTPUT} -m owner --uid-owner ${options.proxyUid} -j RETURN`);
  rules.push(`-A ${CHAIN_OUTPUT} -d ${LOOPBACK[family]} -j RETURN`);
  for (const port of options.targetPorts) {
    rules.push(`-A ${CHAIN_OUTPUT} -o lo -p tcp -m tcp --dport ${port} -j ${CHAIN_REDIRECT}`);
  }
  return rules;
}

/**
 * iptables-restore input for one family. `existing` is the output of `iptables-save -t nat`
 * (empty for a fresh namespace or a dry run).
 */
export function captureRules(options: CaptureOptions, family: Family, existing = ''): string {
  assertValid(options);
  const present = new Set(existing.split('\n').map((l) => l.trim()));
  const lines = [
    `# tokenwarden capture (${family}): inbound TCP to ${options.targetPorts.join(',')} -> ${options.proxyPort}, UID ${options.proxyUid} exempt`,
    '*nat',
    `:${CHAIN_INBOUND} - [0:0]`,
    `:${CHAIN_REDIRECT} - [0:0]`,
    `:${CHAIN_OUTPUT} - [0:0]`,
    ...chainRules(options, family),
    ...jumpRules().filter((rule) => !present.has(rule)),
    'COMMIT',
  ];
  return lines.join('\n') + '\n';
}

/** What must be in `iptables-save -t nat` after a successful apply: every rule, jumps included. */
export function missingRules(options: CaptureOptions, family: Family, saved: string): string[] {
  const present = new Set(saved.split('\n').map((l) => l.trim()));
  return [...jumpRules(), ...chainRules(options, family)].filter((rule) => !present.has(rule));
}

function assertValid(options: CaptureOptions): void {
  const port = (n: number): boolean => Number.isInteger(n) && n >= 1 && n <= 65535;
  if (options.targetPorts.length === 0) throw new Error('capture: at least one target port');
  for (const p of [...options.targetPorts, options.proxyPort]) {
    if (!port(p)) throw new Error(`capture: port ${p} is not in 1..65535`);
  }
  if (options.targetPorts.includes(options.proxyPort)) {
    throw new Error(`capture: target port ${options.proxyPort} is the proxy port`);
  }
  if (!Number.isInteger(options.proxyUid) || options.proxyUid < 0) {
    throw new Error(`capture: proxy UID ${options.proxyUid} is not a UID`);
  }
}
