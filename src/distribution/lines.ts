/**
 * NDJSON framing of the config stream, both ways: bytes in, complete lines out. The sidecar cuts
 * the operator's messages with it; the operator cuts a sidecar's ack lines (bounded at
 * `MAX_STREAM_ACK_BYTES`, protocol.ts). A line is cut at `\n` (a byte that never occurs inside
 * a multi-byte UTF-8 sequence, so chunks are split as bytes and decoded once per line). A line
 * longer than `maxLineBytes` is an error, not a buffer that grows until the process dies: the
 * caller drops the connection.
 *
 * Chunks are kept in a list and joined once per line, so a 20 MB snapshot arriving in 16 KiB
 * chunks costs one copy, not one per chunk.
 */
export type Pushed = { ok: true; lines: string[] } | { ok: false; error: string };

export class LineSplitter {
  readonly #max: number;
  #parts: Buffer[] = [];
  #pending = 0;

  constructor(maxLineBytes: number) {
    this.#max = maxLineBytes;
  }

  /** Bytes held for a line not yet complete. */
  get pendingBytes(): number {
    return this.#pending;
  }

  push(chunk: Buffer): Pushed {
    const lines: string[] = [];
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl < 0) break;
      const piece = chunk.subarray(start, nl);
      if (this.#pending + piece.length > this.#max) return this.#tooLong();
      const line =
        this.#parts.length === 0
          ? piece
          : Buffer.concat([...this.#parts, piece], this.#pending + piece.length);
      this.#parts = [];
      this.#pending = 0;
      let text = line.toString('utf8');
      if (text.endsWith('\r')) text = text.slice(0, -1);
      if (text.trim() !== '') lines.push(text);
      start = nl + 1;
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      if (this.#pending + rest.length > this.#max) return this.#tooLong();
      this.#parts.push(rest);
      this.#pending += rest.length;
    }
    return { ok: true, lines };
  }

  #tooLong(): Pushed {
    this.#parts = [];
    this.#pending = 0;
    return { ok: false, error: `a line is longer than ${this.#max} bytes` };
  }
}
