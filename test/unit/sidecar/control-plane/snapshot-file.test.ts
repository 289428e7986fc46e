import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StreamConfig } from '../../../../src/distribution/protocol.js';
import { createLogger } from '../../../../src/log/logger.js';
import { SnapshotWriter, loadSnapshot } from '../../../../src/sidecar/control-plane/snapshot-file.js';

const config = (n: number): StreamConfig => ({
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
    expect(await loadSnapshot(dir)).toEqual({ kind: 'none' });
    const state = { version: 'v1', config: config(3) };
    const w = new SnapshotWriter({ dir, log: log(), current: () => state });
    w.schedule();
    await w.flush();
    const loaded = await loadSnapshot(dir);
    expect(loaded.kind).toBe('ok');
    if (loaded.kind === 'ok') expect(loaded.value).toMatchObject({ version: 'v1', config: state.config });
    expect(readdirSync(dir)).toEqual(['snapshot.json']);
    expect(w.writtenVersion).toBe('v1');
  });

  it('coalesces a burst of changes into few writes, the last one holding the latest state', async () => {
    let state = { version: 'v0', config: config(1) };
    const w = new SnapshotWriter({ dir, log: log(), current: () => state, minIntervalMs: 100 });
    for (let i = 1; i <= 200; i++) {
      state = { version: `v${i}`, config: config(1) };
      w.schedule();
      if (i % 20 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    await w.flush();
    const writes = written.filter((l) => l.msg === 'snapshot written').length;
    expect(writes).toBeGreaterThanOrEqual(1);
    expect(writes).toBeLessThanOrEqual(5);
    const loaded = await loadSnapshot(dir);
    expect(loaded.kind === 'ok' && loaded.value.version).toBe('v200');
  });

  it('refuses a truncated or edited file', async () => {
    const w = new SnapshotWriter({ dir, log: log(), current: () => ({ version: 'v1', config: config(5) }) });
    w.schedule();
    await w.flush();
    const path = join(dir, 'snapshot.json');
    const text = readFileSync(path, 'utf8');
    writeFileSync(path, text.slice(0, text.length - 10));
    expect(await loadSnapshot(dir)).toMatchObject({
      kind: 'refused',
      error: expect.stringMatching(/truncated/),
    });
    writeFileSync(path, text.replace('"j3"', '"j4"'));
    expect(await loadSnapshot(dir)).toMatchObject({
      kind: 'refused',
      error: expect.stringMatching(/checksum/),
    });
  });
});
