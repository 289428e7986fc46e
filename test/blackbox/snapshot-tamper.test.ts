/**
 * The snapshot file in `--state-dir` cannot be swapped (ADR 0012). A real
 * `tokenwarden sidecar --control-plane` writes its snapshot from a real HTTPS stream peer
 * (test/support/stream-server.ts, which signs each version with its serving key like the
 * operator); the peer is then killed, the file is tampered with the way someone who can write
 * the emptyDir would, and a fresh sidecar started on it. Each variant must be refused at
 * start, fail closed (503 on protected routes, not ready), say why on /status, and take a
 * fresh snapshot once the operator is back. An unkeyed checksum, where the file has one, is
 * recomputed, as an attacker would.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { PolicyBundle } from '../../src/distribution/protocol.js';
import { contentVersion } from '../../src/distribution/version.js';
import { makeSigner } from '../support/attestation.js';
import {
  jtiRevocation,
  pushedKeys,
  startStreamSidecar,
  statusThrough,
  streamPolicy,
  useStreamWorld,
} from './support/control-plane.js';
import { type Sidecar } from './support/sidecar.js';
import { waitFor } from '../support/wait.js';

const world = useStreamWorld('tamper', (issuer) => ({
  policy: streamPolicy(issuer),
  keys: { [issuer.url]: { keys: pushedKeys(issuer) } },
  revocations: [jtiRevocation('leaked', 'jti-tamper-revoked')],
  heartbeatMs: 1_000,
}));
/** The genuine file the sidecar wrote, holding a revocation of `revoked`. */
let genuine: string;
let revoked: string;

function start(name: string, stateDir: string): Promise<Sidecar> {
  return startStreamSidecar({
    name,
    server: world.server,
    upstream: world.app.url,
    tokenFile: world.tokenFile,
    stateDir,
  });
}

async function statusPage(
  s: Sidecar,
): Promise<{ source: Record<string, unknown> & { snapshot: Record<string, unknown> } }> {
  return (await (await fetch(`${s.adminUrl}/status`)).json()) as never;
}

/** The file with its config replaced; `version` as given; an unkeyed checksum recomputed. */
function rewrite(
  text: string,
  edit: (file: Record<string, unknown>, config: PolicyBundle) => PolicyBundle,
): string {
  const file = JSON.parse(text) as Record<string, unknown>;
  const config = edit(file, file.config as PolicyBundle);
  file.config = config;
  if (typeof file.sha256 === 'string')
    file.sha256 = createHash('sha256').update(JSON.stringify(config)).digest('hex');
  // `config` last, as the sidecar writes it.
  const { config: c, ...head } = file;
  return `${JSON.stringify({ ...head, config: c })}\n`;
}

/** Allow-everything, no revocations: what a swap would install. */
function allowAll(c: PolicyBundle): PolicyBundle {
  const spec = { ...c.policy.spec, rules: [{ name: 'all', paths: ['/*'], action: 'Allow' as const }] };
  return { ...c, policy: { ...c.policy, spec }, revocations: [] };
}

beforeAll(async () => {
  const podToken = `pod-token-tamper-${'x'.repeat(40)}`;
  world.server.allowToken(podToken);
  writeFileSync(world.tokenFile, `${podToken}\n`);
  revoked = await world.issuer.token({ jti: 'jti-tamper-revoked' });
  const stateDir = join(world.dir, 'state-genuine');
  const writer = await start('tamper-writer', stateDir);
  await waitFor(
    'the snapshot to hold the current version',
    () => {
      try {
        return readFileSync(join(stateDir, 'snapshot.json'), 'utf8').includes(world.server.version);
      } catch {
        return false;
      }
    },
    10_000,
    20,
  );
  await writer.stop();
  genuine = readFileSync(join(stateDir, 'snapshot.json'), 'utf8');
  await world.server.kill();
}, 60_000);

describe('a snapshot file written by the sidecar', () => {
  it('is enforced after a restart while the operator is down (the control: a genuine file)', async () => {
    const stateDir = join(world.dir, 'state-control');
    mkdirSync(stateDir);
    writeFileSync(join(stateDir, 'snapshot.json'), genuine);
    const s = await start('tamper-control', stateDir);
    expect(await statusThrough(s, revoked)).toBe(401);
    expect(await statusThrough(s, await world.issuer.token())).toBe(200);
    expect((await statusPage(s)).source.snapshot).toMatchObject({ refused: null, signed: true });
    await s.stop();
  });
});

interface Variant {
  name: string;
  /** Prepares `stateDir/snapshot.json`. */
  plant: (stateDir: string) => void | Promise<void>;
  refused: RegExp;
}

const file = (stateDir: string): string => join(stateDir, 'snapshot.json');

const variants: Variant[] = [
  {
    name: 'swapped for Allow-everything with no revocations, version and proof kept',
    plant: (d) =>
      writeFileSync(
        file(d),
        rewrite(genuine, (_f, c) => allowAll(c)),
      ),
    refused: /does not hash|checksum/,
  },
  {
    name: 're-versioned: the swapped content under its own content hash',
    plant: (d) =>
      writeFileSync(
        file(d),
        rewrite(genuine, (f, c) => {
          const swapped = allowAll(c);
          f.version = contentVersion(swapped);
          return swapped;
        }),
      ),
    refused: /signature/,
  },
  {
    name: 'swapped and signed by a certificate from another CA',
    plant: async (d) => {
      const attacker = await makeSigner('127.0.0.1', 'attacker-ca');
      writeFileSync(
        file(d),
        rewrite(genuine, (f, c) => {
          const swapped = allowAll(c);
          f.version = contentVersion(swapped);
          f.proof = attacker.proof(swapped);
          return swapped;
        }),
      );
    },
    refused: /pinned control-plane CA/,
  },
  {
    name: 'truncated',
    plant: (d) => writeFileSync(file(d), genuine.slice(0, Math.floor(genuine.length * 0.7))),
    refused: /truncated or corrupt/,
  },
  {
    name: 'a symbolic link to a genuine file elsewhere',
    plant: (d) => {
      const elsewhere = join(world.dir, `elsewhere-${Math.random().toString(36).slice(2)}.json`);
      writeFileSync(elsewhere, genuine);
      symlinkSync(elsewhere, file(d));
    },
    refused: /symbolic link/,
  },
  {
    name: 'a FIFO (start-up must not hang on it)',
    plant: (d) => void execFileSync('mkfifo', [file(d)]),
    refused: /not a regular file/,
  },
];

describe('a tampered snapshot file is refused at start, fails closed, and says why', () => {
  it.each(variants)('$name', async (v) => {
    const stateDir = join(world.dir, `state-${v.name.replace(/[^a-z]+/g, '-').slice(0, 40)}`);
    mkdirSync(stateDir);
    await v.plant(stateDir);
    const s = await start('tamper', stateDir);
    // Fail closed: nothing enforced from the file, so nothing forwarded.
    expect(await statusThrough(s)).toBe(503);
    expect(await statusThrough(s, revoked)).toBe(503);
    expect(await statusThrough(s, await world.issuer.token())).toBe(503);
    expect((await fetch(`${s.adminUrl}/readyz`)).status).toBe(503);
    const page = await statusPage(s);
    expect(page.source).toMatchObject({ connected: false, version: null });
    expect(String(page.source.snapshot.refused)).toMatch(v.refused);
    expect(s.records().some((r) => String(r.msg).startsWith('snapshot refused'))).toBe(true);
    await s.stop();
  });

  it('takes a fresh snapshot (never a delta) once the operator is back', async () => {
    const stateDir = join(world.dir, 'state-recover');
    mkdirSync(stateDir);
    writeFileSync(
      file(stateDir),
      rewrite(genuine, (_f, c) => allowAll(c)),
    );
    const s = await start('tamper-recover', stateDir);
    expect(await statusThrough(s)).toBe(503);
    const before = world.server.connects.length;
    await world.server.restart();
    await waitFor(
      'the sidecar to enforce the fresh snapshot',
      async () => (await statusThrough(s, revoked)) === 401,
      40_000,
      50,
    );
    const connects = world.server.connects.slice(before).filter((c) => c.status === 200);
    expect(connects[0]).toMatchObject({ version: null, sent: 'snapshot' });
    expect(await statusThrough(s)).toBe(401);
    expect(await statusThrough(s, await world.issuer.token())).toBe(200);
    await s.stop();
    await world.server.kill();
  }, 60_000);
});
