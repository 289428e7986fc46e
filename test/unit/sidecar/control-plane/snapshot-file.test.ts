import { execFileSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Proof } from '../../../../src/distribution/attestation.js';
import type { PolicyBundle } from '../../../../src/distribution/protocol.js';
import type { Expect } from '../../../../src/distribution/snapshot.js';
import { contentVersion } from '../../../../src/distribution/version.js';
import { createLogger } from '../../../../src/log/logger.js';
import { SnapshotWriter, loadSnapshot } from '../../../../src/sidecar/control-plane/snapshot-file.js';
import { makeSigner, type TestSigner } from '../../../support/attestation.js';

let signer: TestSigner;
let expectOk: Expect;
beforeAll(async () => {
  signer = await makeSigner();
  expectOk = { trust: signer.trust, namespace: 'shop' };
});

/** A held state as the operator vouches for it. */
const signed = (c: PolicyBundle): { version: string; proof: Proof; config: PolicyBundle } => ({
  version: contentVersion(c),
  proof: signer.proof(c),
  config: c,
});

const config = (n: number): PolicyBundle => ({
  policy: {
    apiVersion: 'tokenwarden.dev/v1alpha1',
    kind: 'TokenPolicy',
    metadata: { name: 'p', namespace: 'shop' },
    spec: { issuers: [] },
  },
  keys: {},
  revocations: Array.from({ length: n }, (_, i) => ({
    apiVersion: 'tokenwarden.dev/v1alpha1' as const,
    kind: 'TokenRevocation' as const,
    metadata: { name: `r${i}`, namespace: 'shop' },
    spec: { tokens: [{ jti: `j${i}` }] },
  })),
});

let dir: string;
let written: Record<string, unknown>[];
const log = () =>
  createLogger('t', {
    level: 'debug',
    destination: new Writable({
      write(c: Buffer, _e, done) {
        for (const l of c.toString().split('\n'))
          if (l) written.push(JSON.parse(l) as Record<string, unknown>);
        done();
      },
    }),
  });

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tw-snapfile-'));
  written = [];
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('snapshot file on disk', () => {
  it('is absent, then written and loaded back whole, with no temporary file left', async () => {
    expect(await loadSnapshot(dir, expectOk)).toEqual({ kind: 'none' });
    const state = signed(config(3));
    const w = new SnapshotWriter({ dir, log: log(), current: () => state });
    w.schedule();
    await w.flush();
    const loaded = await loadSnapshot(dir, expectOk);
    expect(loaded.kind).toBe('ok');
    if (loaded.kind === 'ok')
      expect(loaded.value).toMatchObject({ version: state.version, config: state.config });
    expect(readdirSync(dir)).toEqual(['snapshot.json']);
    expect(w.writtenVersion).toBe(state.version);
  });

  it('coalesces a burst of changes into few writes, the last one holding the latest state', async () => {
    // Signed beforehand: the burst itself takes a few event-loop turns, not the signing time
    // of a busy machine (which the 100 ms interval would then split into more writes).
    const states = Array.from({ length: 200 }, (_, i) => signed(config(i + 1)));
    let state = states[0]!;
    const w = new SnapshotWriter({ dir, log: log(), current: () => state, minIntervalMs: 100 });
    for (const next of states) {
      state = next;
      w.schedule();
      if (states.indexOf(next) % 20 === 19) await new Promise((r) => setImmediate(r));
    }
    await w.flush();
    const writes = written.filter((l) => l.msg === 'snapshot written').length;
    expect(writes).toBeGreaterThanOrEqual(1);
    expect(writes).toBeLessThanOrEqual(5);
    const loaded = await loadSnapshot(dir, expectOk);
    expect(loaded.kind === 'ok' && loaded.value.version).toBe(contentVersion(config(200)));
  });

  it('refuses a truncated or edited file', async () => {
    const w = new SnapshotWriter({ dir, log: log(), current: () => signed(config(5)) });
    w.schedule();
    await w.flush();
    const path = join(dir, 'snapshot.json');
    const text = readFileSync(path, 'utf8');
    writeFileSync(path, text.slice(0, text.length - 10));
    expect(await loadSnapshot(dir, expectOk)).toMatchObject({
      kind: 'refused',
      error: expect.stringMatching(/truncated/),
    });
    writeFileSync(path, text.replace('"j3"', '"j4"'));
    expect(await loadSnapshot(dir, expectOk)).toMatchObject({
      kind: 'refused',
      error: expect.stringMatching(/does not hash/),
    });
  });

  it('refuses a symbolic link at the path (even to a good snapshot) without following it', async () => {
    const elsewhere = mkdtempSync(join(tmpdir(), 'tw-snapfile-target-'));
    try {
      const w = new SnapshotWriter({ dir: elsewhere, log: log(), current: () => signed(config(2)) });
      w.schedule();
      await w.flush();
      symlinkSync(join(elsewhere, 'snapshot.json'), join(dir, 'snapshot.json'));
      expect(await loadSnapshot(dir, expectOk)).toEqual({ kind: 'refused', error: 'is a symbolic link' });
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });

  it('refuses a FIFO at once instead of waiting for a writer', async () => {
    execFileSync('mkfifo', [join(dir, 'snapshot.json')]);
    expect(await loadSnapshot(dir, expectOk)).toEqual({ kind: 'refused', error: 'not a regular file' });
  });

  it('refuses a directory at the path', async () => {
    mkdirSync(join(dir, 'snapshot.json'));
    expect(await loadSnapshot(dir, expectOk)).toMatchObject({ kind: 'refused' });
  });

  it('never writes through a link planted at the temporary name', async () => {
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'untouched');
    symlinkSync(victim, join(dir, `.snapshot.json.tmp-${process.pid}`));
    const w = new SnapshotWriter({ dir, log: log(), current: () => signed(config(1)) });
    w.schedule();
    await w.flush();
    expect(readFileSync(victim, 'utf8')).toBe('untouched');
    expect((await loadSnapshot(dir, expectOk)).kind).toBe('ok');
  });
});
