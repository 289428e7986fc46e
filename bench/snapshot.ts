/**
 * Snapshot cost on the sidecar side, for 1k / 10k / 100k revocation entries:
 *
 *   line bytes  the snapshot message as it crosses the stream (one NDJSON line)
 *   parse       JSON.parse + envelope check (parseServerMessage)
 *   apply       validate policy and every revocation, compile, import keys, build the set, swap
 *   file write  encode + write tmp → fsync → rename → fsync(dir)
 *   file load   read + checksum + decode + apply (a restart with the operator down)
 *   delta       one revocation added on top: incremental update vs a full rebuild
 *
 * Usage: npm run bench:snapshot [-- --entries 1000,10000,100000 --per-doc 1 --json FILE]
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { exportJWK, generateKeyPair } from 'jose';
import { parseServerMessage, type SnapshotMessage, type PolicyBundle } from '../src/distribution/protocol.js';
import { KeyStore } from '../src/keys/store.js';
import { createLogger } from '../src/log/logger.js';
import type { TokenPolicy, TokenRevocation } from '../src/policy/types.js';
import { RevocationSet } from '../src/revocation/set.js';
import { StreamApplier } from '../src/sidecar/control-plane/apply.js';
import { SnapshotWriter, loadSnapshot } from '../src/sidecar/control-plane/snapshot-file.js';
import { EnforcementState } from '../src/decide/state.js';
import { contentVersion } from '../src/distribution/version.js';
import { makeSigner } from '../test/support/attestation.js';

const ISS = 'https://auth.example.com/';

export function benchPolicy(): TokenPolicy {
  return {
    apiVersion: 'tokenwarden.dev/v1alpha1',
    kind: 'TokenPolicy',
    metadata: { name: 'orders-api', namespace: 'shop', generation: 1 },
    spec: {
      selector: { matchLabels: { app: 'orders' } },
      targetPort: 8080,
      issuers: [{ issuer: ISS, audiences: ['orders'], jwksUri: 'https://auth.example.com/jwks.json' }],
    },
  };
}

/** `entries` revocation entries, `perDoc` per TokenRevocation: jti, sha256 and subject mixed. */
export function benchRevocations(entries: number, perDoc: number, prefix = 'r'): TokenRevocation[] {
  const docs: TokenRevocation[] = [];
  for (let i = 0; i < entries; i += perDoc) {
    const tokens = [];
    for (let j = i; j < Math.min(entries, i + perDoc); j++) {
      const k = j % 3;
      tokens.push(
        k === 0
          ? { jti: `jti-${prefix}-${j}-7f3a9c2e` }
          : k === 1
            ? { tokenSha256: createHash('sha256').update(`${prefix}-${j}`).digest('hex') }
            : { subject: `user-${prefix}-${j}`, issuedBefore: '2026-12-01T00:00:00Z' },
      );
    }
    docs.push({
      apiVersion: 'tokenwarden.dev/v1alpha1',
      kind: 'TokenRevocation',
      metadata: { name: `${prefix}-${i}`, namespace: 'shop' },
      spec: { reason: 'bench', expiresAt: '2027-12-01T00:00:00Z', tokens },
    });
  }
  return docs;
}

export interface SnapshotFigures {
  entries: number;
  documents: number;
  bytes: number;
  parse_ms: number;
  apply_ms: number;
  /** parse + apply: the sidecar's cost to take a snapshot from the stream. */
  ms: number;
  /** CPU time (user + system, all threads) of parse + apply: what a loaded machine does not inflate. */
  cpu_ms: number;
  file_bytes: number;
  file_write_ms: number;
  file_load_ms: number;
  delta_update_ms: number;
  full_rebuild_ms: number;
  heap_mb: number;
}

const ms = (t0: number): number => Math.round((performance.now() - t0) * 10) / 10;

export async function measureSnapshot(entries: number, perDoc: number): Promise<SnapshotFigures> {
  const { publicKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
  const config: PolicyBundle = {
    policy: benchPolicy(),
    keys: { [ISS]: { keys: [jwk] } },
    revocations: benchRevocations(entries, perDoc),
  };
  const version = contentVersion(config);
  const message: SnapshotMessage = { type: 'snapshot', session: 's', generation: 1, version, config };
  const line = JSON.stringify(message);
  const bytes = Buffer.byteLength(line) + 1;

  const heapBefore = process.memoryUsage().heapUsed;
  const state = new EnforcementState();
  const keys = new KeyStore();
  const applier = new StreamApplier({ state, keys });
  const cpu0 = process.cpuUsage();
  let t0 = performance.now();
  const parsed = parseServerMessage(line);
  if (!parsed.ok || parsed.value.type !== 'snapshot') throw new Error('bench: snapshot did not parse');
  const parseMs = ms(t0);
  t0 = performance.now();
  const applied = await applier.applySnapshot(parsed.value.version, parsed.value.config);
  const applyMs = ms(t0);
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = Math.round((cpu.user + cpu.system) / 100) / 10;
  if (!applied.ok) throw new Error(`bench: snapshot refused: ${applied.error}`);
  const heapMb = Math.round(((process.memoryUsage().heapUsed - heapBefore) / 1048576) * 10) / 10;

  const dir = await mkdtemp(join(tmpdir(), 'tokenwarden-bench-snap-'));
  const log = createLogger('bench', { level: 'silent' });
  try {
    // The file is written and loaded as in a pod: signed by the operator, checked at load.
    const signer = await makeSigner();
    const proof = signer.proof(config);
    const writer = new SnapshotWriter({
      dir,
      log,
      current: () => {
        const held = applier.current();
        return held === undefined ? undefined : { ...held, proof };
      },
    });
    t0 = performance.now();
    writer.schedule();
    await writer.flush();
    const writeMs = ms(t0);
    t0 = performance.now();
    const loaded = await loadSnapshot(dir, { trust: signer.trust, namespace: 'shop' });
    if (loaded.kind !== 'ok')
      throw new Error(
        `bench: snapshot file did not load: ${loaded.kind === 'refused' ? loaded.error : 'none'}`,
      );
    const again = await new StreamApplier({
      state: new EnforcementState(),
      keys: new KeyStore(),
    }).applySnapshot(loaded.value.version, loaded.value.config);
    const loadMs = ms(t0);
    if (!again.ok) throw new Error('bench: loaded snapshot refused');

    const extra = benchRevocations(1, 1, 'delta')[0] as TokenRevocation;
    t0 = performance.now();
    const delta = await applier.applyDelta({
      type: 'delta',
      session: 's',
      generation: 2,
      version: 'v2',
      base: version,
      revocationsUpserted: [extra],
    });
    const deltaMs = ms(t0);
    if (!delta.ok) throw new Error('bench: delta refused');
    t0 = performance.now();
    RevocationSet.build(
      applier.held?.revocations.values() ?? [],
      { name: 'orders-api', namespace: 'shop' },
      Date.now() / 1000,
    );
    const rebuildMs = ms(t0);
    return {
      entries,
      documents: config.revocations.length,
      bytes,
      parse_ms: parseMs,
      apply_ms: applyMs,
      ms: Math.round((parseMs + applyMs) * 10) / 10,
      cpu_ms: cpuMs,
      file_bytes: loaded.bytes,
      file_write_ms: writeMs,
      file_load_ms: loadMs,
      delta_update_ms: deltaMs,
      full_rebuild_ms: rebuildMs,
      heap_mb: heapMb,
    };
  } finally {
    keys.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      entries: { type: 'string', default: '1000,10000,100000' },
      'per-doc': { type: 'string', default: '1' },
      json: { type: 'string' },
    },
  });
  const perDoc = Number(values['per-doc']);
  const rows: SnapshotFigures[] = [];
  for (const n of values.entries.split(',').map(Number)) {
    await measureSnapshot(Math.min(n, 1000), perDoc); // warm-up: JIT, key import
    rows.push(await measureSnapshot(n, perDoc));
  }
  const cols = Object.keys(rows[0] ?? {}) as (keyof SnapshotFigures)[];
  console.log(`| ${cols.join(' | ')} |\n|${cols.map(() => '---:').join('|')}|`);
  for (const r of rows) console.log(`| ${cols.map((c) => r[c]).join(' | ')} |`);
  if (values.json) await writeFile(values.json, `${JSON.stringify({ perDoc, rows }, null, 2)}\n`);
}

if (process.argv[1]?.endsWith('snapshot.js')) await main();
