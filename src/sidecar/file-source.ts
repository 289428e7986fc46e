/**
 * Watches the standalone policy file. Editors save by rename, and fs.watch misses events on
 * some file systems (and on a watched file replaced by a new inode), so it is two mechanisms:
 * fs.watch on the parent directory for speed and a stat poll as a backstop. Content is
 * compared by hash, so a touch or a duplicate event never causes a reload.
 */
import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';

export interface FileSourceOptions {
  path: string;
  /** Called with every new content of the file (never twice for the same content). */
  onContent: (text: string) => void;
  /** Reading failed (file missing, permissions); the last content stays in force. */
  onReadError: (err: Error) => void;
  pollMs?: number;
  debounceMs?: number;
}

export class FileSource {
  readonly #opts: FileSourceOptions;
  #lastHash: string | undefined;
  #watcher: FSWatcher | undefined;
  #poll: NodeJS.Timeout | undefined;
  #debounce: NodeJS.Timeout | undefined;
  #reading: Promise<void> | undefined;
  #again = false;
  #lastError: string | undefined;

  constructor(opts: FileSourceOptions) {
    this.#opts = opts;
  }

  /** Reads the file once (the caller learns about a bad first file at once), then watches. */
  async start(): Promise<void> {
    await this.check();
    const name = basename(this.#opts.path);
    try {
      this.#watcher = watch(dirname(this.#opts.path), { persistent: false }, (_event, file) => {
        if (file === null || file === name) this.#schedule();
      });
      this.#watcher.on('error', () => undefined);
    } catch {
      // No inotify (or the directory vanished): the poll below still notices changes.
    }
    this.#poll = setInterval(() => this.#schedule(), this.#opts.pollMs ?? 500);
    this.#poll.unref();
  }

  stop(): void {
    this.#watcher?.close();
    if (this.#poll) clearInterval(this.#poll);
    if (this.#debounce) clearTimeout(this.#debounce);
  }

  #schedule(): void {
    if (this.#debounce) return;
    this.#debounce = setTimeout(() => {
      this.#debounce = undefined;
      void this.check();
    }, this.#opts.debounceMs ?? 50);
    this.#debounce.unref();
  }

  /** Reads the file and reports new content; calls that overlap collapse into one more read. */
  async check(): Promise<void> {
    if (this.#reading) {
      this.#again = true;
      return this.#reading;
    }
    this.#reading = this.#read().finally(() => {
      this.#reading = undefined;
    });
    await this.#reading;
    if (this.#again) {
      this.#again = false;
      await this.check();
    }
  }

  async #read(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.#opts.path, 'utf8');
    } catch (err) {
      const e = err as Error;
      if (this.#lastError !== e.message) this.#opts.onReadError(e);
      this.#lastError = e.message;
      return;
    }
    this.#lastError = undefined;
    const hash = createHash('sha256').update(text).digest('hex');
    if (hash === this.#lastHash) return;
    this.#lastHash = hash;
    // Called from a timer's promise: a throw here would be an unhandled rejection (the process
    // exits). It is reported as a read error instead, and the content read again next time.
    try {
      this.#opts.onContent(text);
    } catch (err) {
      this.#lastHash = undefined;
      this.#opts.onReadError(err instanceof Error ? err : new Error(String(err)));
    }
  }
}
