import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileSource, type FileSourceOptions } from '../../../src/sidecar/file-source.js';
import { sleep, until } from '../../support/wait.js';

let dir: string;
let file: string;
let sources: FileSource[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tokenwarden-file-source-'));
  file = join(dir, 'policy.yaml');
});

afterEach(() => {
  for (const s of sources) s.stop();
  sources = [];
  rmSync(dir, { recursive: true, force: true });
});

interface Watched {
  source: FileSource;
  contents: string[];
  errors: string[];
}

function watch(opts: Partial<FileSourceOptions> = {}): Watched {
  const contents: string[] = [];
  const errors: string[] = [];
  const source = new FileSource({
    path: file,
    onContent: (text) => contents.push(text),
    onReadError: (err) => errors.push(err.message),
    ...opts,
  });
  sources.push(source);
  return { source, contents, errors };
}

/** How editors save: a sibling file renamed over the watched one. */
function saveByRename(text: string, n = 0): void {
  const tmp = join(dir, `.policy.yaml.swp-${n}-${Date.now()}`);
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

describe('FileSource', () => {
  it('start() reads the file once before returning', async () => {
    writeFileSync(file, 'v1');
    const w = watch();
    await w.source.start();
    expect(w.contents).toEqual(['v1']);
  });

  it('a rename-based save is picked up by the directory watcher, without waiting for the poll', async () => {
    writeFileSync(file, 'v1');
    const w = watch({ pollMs: 60_000 });
    await w.source.start();
    saveByRename('v2');
    const ms = await until('the renamed content', () => w.contents.includes('v2'), 3_000, 10);
    expect(w.contents).toEqual(['v1', 'v2']);
    expect(ms).toBeLessThan(3_000);
  });

  it('an in-place write is picked up', async () => {
    writeFileSync(file, 'v1');
    const w = watch({ pollMs: 100 });
    await w.source.start();
    writeFileSync(file, 'v2');
    await until('the new content', () => w.contents.includes('v2'));
    expect(w.contents).toEqual(['v1', 'v2']);
  });

  it('the same content saved twice is reported once', async () => {
    writeFileSync(file, 'v1');
    const w = watch({ pollMs: 50 });
    await w.source.start();
    saveByRename('v2', 1);
    await until('v2', () => w.contents.includes('v2'));
    saveByRename('v2', 2);
    writeFileSync(file, 'v2');
    await sleep(300);
    expect(w.contents).toEqual(['v1', 'v2']);
  });

  it('overlapping checks collapse: one report for one change', async () => {
    writeFileSync(file, 'v1');
    const w = watch({ pollMs: 60_000 });
    await w.source.start();
    writeFileSync(file, 'v2');
    await Promise.all([w.source.check(), w.source.check(), w.source.check(), w.source.check()]);
    expect(w.contents).toEqual(['v1', 'v2']);
  });

  it('a missing file is reported once per distinct error, and content that comes back is reported', async () => {
    writeFileSync(file, 'v1');
    const w = watch({ pollMs: 50 });
    await w.source.start();
    rmSync(file);
    await until('the read error', () => w.errors.length > 0);
    await sleep(300); // several polls later
    expect(w.errors).toHaveLength(1);
    expect(w.errors[0]).toContain('ENOENT');
    saveByRename('v3');
    await until('v3', () => w.contents.includes('v3'));
    expect(w.contents).toEqual(['v1', 'v3']);
  });

  it('a file missing at start is reported as a read error and no content', async () => {
    const w = watch({ pollMs: 50 });
    await w.source.start();
    expect(w.contents).toEqual([]);
    expect(w.errors).toHaveLength(1);
    saveByRename('v1');
    await until('v1', () => w.contents.includes('v1'));
  });

  it('after stop() nothing more is reported', async () => {
    writeFileSync(file, 'v1');
    const w = watch({ pollMs: 50 });
    await w.source.start();
    w.source.stop();
    saveByRename('v2');
    await sleep(300);
    expect(w.contents).toEqual(['v1']);
  });
});
