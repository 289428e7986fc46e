/**
 * No log line holds a credential, whatever part of the request carried it. Every refusal kind
 * the proxy can produce from a request (token refusals, rule denials, path refusals, framing
 * refusals, oversized heads, upgrades, CONNECT, head and body timeouts, connection caps, plus
 * allowed and audited requests at debug level) is driven against the real sidecar with a real
 * token planted in each carrier: a path parameter, query variants, any query value, a
 * fragment, a plain path segment, an encoded segment, headers. No line may contain the token,
 * nor any of its dot-separated parts of 16 characters or more.
 */
import { connect } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { raw } from './support/http.js';
import { policyDoc } from './support/policy.js';
import { startSidecar, waitReady, type Sidecar } from './support/sidecar.js';
import { sleep } from '../support/wait.js';
import { useWorld } from './support/world.js';

const world = useWorld();
let enforce: Sidecar;
let audit: Sidecar;
let token: string;

const RULES = [
  { name: 'public', paths: ['/public/*'], action: 'Allow' as const },
  { name: 'closed', paths: ['/denied/*'], action: 'Deny' as const },
];

beforeAll(async () => {
  const args = ['--log-level', 'debug', '--body-idle-timeout-ms', '1000', '--headers-timeout-ms', '1500'];
  enforce = await startSidecar({
    name: 'logs-enforce',
    upstream: world.app.url,
    policyYaml: policyDoc(world.issuer, { rules: RULES }),
    args: [...args, '--max-connections-per-client', '2'],
  });
  audit = await startSidecar({
    name: 'logs-audit',
    upstream: world.app.url,
    policyYaml: policyDoc(world.issuer, { rules: RULES, mode: 'Audit' }),
    args,
  });
  await Promise.all([waitReady(enforce), waitReady(audit)]);
  token = await world.issuer.token({ sub: 'log-carrier' });
}, 60_000);

/** Where a token can travel: a suffix for the path and extra header lines. */
const CARRIERS: [string, (t: string) => { path: string; headers: string[] }][] = [
  ['path parameter', (t) => ({ path: `/x;access_token=${t}`, headers: [] })],
  ['encoded path parameter', (t) => ({ path: `/x%3Baccess_token=${t}`, headers: [] })],
  ['parameter on a dot segment', (t) => ({ path: `/..;access_token=${t}/x`, headers: [] })],
  ['access.token', (t) => ({ path: `/x?access.token=${t}`, headers: [] })],
  ['Access_token', (t) => ({ path: `/x?Access_token=${t}`, headers: [] })],
  ['access_token[]', (t) => ({ path: `/x?access_token[]=${t}`, headers: [] })],
  ['any query value', (t) => ({ path: `/x?q=${t}&access_token=${t}`, headers: [] })],
  ['fragment', (t) => ({ path: `/x#${t}`, headers: [] })],
  ['plain path segment', (t) => ({ path: `/x/${t}`, headers: [] })],
  [
    'percent-encoded segment',
    (t) => ({ path: `/x/${[...t].map((c) => `%${c.charCodeAt(0).toString(16)}`).join('')}`, headers: [] }),
  ],
  ['segment with =', (t) => ({ path: `/x/token=${t}`, headers: [] })],
  [
    'headers',
    (t) => ({ path: '/x', headers: [`x-token: ${t}`, `cookie: s=${t}`, `authorization: Bearer,${t}`] }),
  ],
];

type Kind = (port: number, path: string, headers: string[]) => Promise<unknown>;

const head = (method: string, path: string, headers: string[]): string =>
  `${method} ${path} HTTP/1.1\r\nhost: a\r\n${headers.map((h) => `${h}\r\n`).join('')}`;

const plain =
  (prefix: string, more: (t: string) => string[] = () => []): Kind =>
  (port, path, headers) =>
    raw(port, `${head('GET', prefix + path, [...headers, ...more(token), 'connection: close'])}\r\n`).catch(
      () => undefined,
    );

/** A raw exchange that may never be answered (a timeout): bounded by `ms`. */
function hold(port: number, data: string, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.on('error', () => undefined);
    s.write(data);
    setTimeout(() => {
      s.destroy();
      resolve();
    }, ms);
  });
}

const KINDS: [string, Kind][] = [
  ['missing (protected path, no Authorization)', plain('/orders')],
  ['malformed token', plain('/orders', (t) => [`authorization: Bearer ${t}.extra`])],
  ['bad_signature', plain('/orders', (t) => [`authorization: Bearer ${t.slice(0, -4)}AAAA`])],
  ['denied_by_rule', plain('/denied')],
  ['allowed (debug log)', plain('/public')],
  ['allowed with a valid token', plain('/orders', (t) => [`authorization: Bearer ${t}`])],
  ['malformed path', plain('/orders/%2F')],
  ['malformed_http (two Hosts)', plain('/orders', () => ['host: b'])],
  ['header_too_large', plain('/orders', () => Array.from({ length: 120 }, (_, i) => `x-h${i}: v`))],
  ['upgrade_refused', plain('/public', () => ['connection: upgrade', 'upgrade: websocket'])],
  ['Expect refused', plain('/public', () => ['expect: 200-ok', 'content-length: 3'])],
  [
    'CONNECT',
    (port, _path, headers) =>
      raw(port, `${head('CONNECT', `${token}:443`, headers)}\r\n`).catch(() => undefined),
  ],
  ['head timeout', (port, path, headers) => hold(port, head('GET', `/orders${path}`, headers), 2_500)],
  [
    'body timeout',
    (port, path, headers) =>
      hold(port, `${head('POST', `/public${path}`, [...headers, 'content-length: 10'])}\r\nab`, 2_500),
  ],
  [
    'connection_limit',
    async (port, path, headers) => {
      const held = [0, 1].map(() => hold(port, '', 400));
      await sleep(100);
      await plain('/public')(port, path, headers);
      await Promise.all(held);
    },
  ],
];

function leaked(s: Sidecar, from: number): string[] {
  const parts = [token, ...token.split('.').filter((p) => p.length >= 16)];
  return s
    .logs()
    .slice(from)
    .split('\n')
    .filter((line) => parts.some((p) => line.includes(p)));
}

describe('no log line holds a credential', () => {
  it.each(KINDS)(
    '%s, with the token in every carrier',
    async (_kind, run) => {
      const from = [enforce.logs().length, audit.logs().length] as const;
      await Promise.all(
        [enforce, audit].flatMap((sidecar) =>
          CARRIERS.map(([, carrier]) => {
            const c = carrier(token);
            return run(sidecar.proxyPort, c.path, c.headers);
          }),
        ),
      );
      await sleep(300);
      expect(leaked(enforce, from[0])).toEqual([]);
      expect(leaked(audit, from[1])).toEqual([]);
    },
    60_000,
  );
});
