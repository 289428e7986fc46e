/**
 * The snapshot on disk (`--state-dir/snapshot.json`, format in src/distribution/snapshot.ts).
 *
 * Written crash-safely: a temporary sibling is written and fsynced, renamed over the file, and
 * the directory fsynced, so after a crash the file is the old snapshot or the new one, never a
 * torn mix. Writes are coalesced: at most one in flight and at least `minIntervalMs` apart; a
 * burst of deltas ends with one write of the latest state, not one per delta.
 */
import { constants } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Proof } from '../../distribution/attestation.js';
import {
  SNAPSHOT_FILE,
  decodeSnapshot,
  encodeSnapshot,
  type Expect,
  type SnapshotFile,
} from '../../distribution/snapshot.js';
import type { PolicyBundle } from '../../distribution/protocol.js';
import type { Logger } from '../../log/logger.js';

/** Far above any real snapshot (100k revocations are ~15 MB); bounds what a start-up reads. */
export const MAX_SNAPSHOT_BYTES = 256 * 1024 * 1024;

export type Loaded =
  { kind: 'none' } | { kind: 'ok'; value: SnapshotFile; bytes: number } | { kind: 'refused'; error: string };

/**
 * Opened without following a link and without blocking (a FIFO opens at once and is then
 * refused as not a regular file, instead of hanging start-up before the listeners open); read
 * through the descriptor that was checked, never by path again, up to the size bound.
 */
const READ_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

export async function loadSnapshot(dir: string, expect: Expect): Promise<Loaded> {
  const path = join(dir, SNAPSHOT_FILE);
  let fh;
  try {
    fh = await open(path, READ_FLAGS);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { kind: 'none' };
    if (code === 'ELOOP') return { kind: 'refused', error: 'is a symbolic link' };
    return { kind: 'refused', error: `cannot open: ${code ?? (err as Error).message}` };
  }
  let text: string;
  try {
    const st = await fh.stat();
    if (!st.isFile()) return { kind: 'refused', error: 'not a regular file' };
    if (st.size > MAX_SNAPSHOT_BYTES)
      return { kind: 'refused', error: `larger than ${MAX_SNAPSHOT_BYTES} bytes` };
    const buf = Buffer.alloc(st.size + 1);
    let got = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, got, buf.length - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
      // Grown since fstat: someone is writing it under us.
      if (got > st.size) return { kind: 'refused', error: 'changed while being read' };
    }
    text = buf.subarray(0, got).toString('utf8');
  } catch (err) {
    return {
      kind: 'refused',
      error: `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    };
  } finally {
    await fh.close().catch(() => undefined);
  }
  const decoded = decodeSnapshot(text, expect);
  return decoded.ok
    ? { kind: 'ok', value: decoded.value, bytes: Buffer.byteLength(text) }
    : { kind: 'refused', error: decoded.error };
}

/** A new file only, never through a link someone left at the temporary name. */
const WRITE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** write tmp → fsync → rename → fsync(dir). */
async function writeFileAtomically(dir: string, name: string, text: string): Promise<void> {
  const target = join(dir, name);
  const tmp = join(dir, `.${name}.tmp-${process.pid}`);
  await unlink(tmp).catch(() => undefined);
  const fh = await open(tmp, WRITE_FLAGS, 0o600);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, target);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

export interface SnapshotWriterOptions {
  dir: string;
  log: Logger;
  /** The state to write, read when the write starts (so it is always the latest). */
  /** Undefined also while the held version has no operator proof (nothing worth keeping). */
  current: () => { version: string; proof: Proof; config: PolicyBundle } | undefined;
  minIntervalMs?: number;
  now?: () => number;
}

export class SnapshotWriter {
  readonly #o: SnapshotWriterOptions;
  #writing: Promise<void> | undefined;
  #dirty = false;
  #timer: NodeJS.Timeout | undefined;
  #lastStart = Number.NEGATIVE_INFINITY;
  #writtenVersion: string | undefined;

  constructor(options: SnapshotWriterOptions) {
    this.#o = options;
  }

  /** The state changed: write it soon. */
  schedule(): void {
    this.#dirty = true;
    if (this.#writing !== undefined || this.#timer !== undefined) return;
    const wait = this.#lastStart + (this.#o.minIntervalMs ?? 250) - (this.#o.now ?? Date.now)();
    if (wait <= 0) this.#start();
    else {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#start();
      }, wait);
      this.#timer.unref();
    }
  }

  /** Writes whatever is pending now and waits for it (shutdown, tests). */
  async flush(): Promise<void> {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    while (this.#writing !== undefined || this.#dirty) {
      if (this.#writing === undefined) this.#start();
      await this.#writing;
    }
  }

  #start(): void {
    this.#dirty = false;
    this.#lastStart = (this.#o.now ?? Date.now)();
    this.#writing = this.#write().finally(() => {
      this.#writing = undefined;
      if (this.#dirty) this.schedule();
    });
  }

  async #write(): Promise<void> {
    const state = this.#o.current();
    if (state === undefined) return;
    const started = performance.now();
    try {
      const text = encodeSnapshot(state.version, state.proof, state.config, new Date());
      await writeFileAtomically(this.#o.dir, SNAPSHOT_FILE, text);
      this.#writtenVersion = state.version;
      this.#o.log.debug(
        {
          version: state.version,
          bytes: Buffer.byteLength(text),
          ms: Math.round(performance.now() - started),
        },
        'snapshot written',
      );
    } catch (err) {
      // Enforcement is unaffected; only a restart while the operator is down would lack it.
      this.#o.log.error({ dir: this.#o.dir, err: (err as Error).message }, 'snapshot could not be written');
    }
  }

  get writtenVersion(): string | undefined {
    return this.#writtenVersion;
  }
}
