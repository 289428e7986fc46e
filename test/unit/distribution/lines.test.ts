import { describe, expect, it } from 'vitest';
import { LineSplitter } from '../../../src/distribution/lines.js';

const b = (s: string): Buffer => Buffer.from(s, 'utf8');

describe('LineSplitter', () => {
  const cases: { name: string; chunks: string[]; lines: string[]; pending: number }[] = [
    { name: 'one whole line', chunks: ['{"a":1}\n'], lines: ['{"a":1}'], pending: 0 },
    { name: 'two lines in one chunk', chunks: ['a\nb\n'], lines: ['a', 'b'], pending: 0 },
    { name: 'a line split over three chunks', chunks: ['{"a"', ':', '1}\n'], lines: ['{"a":1}'], pending: 0 },
    { name: 'a partial line is held', chunks: ['a\nbc'], lines: ['a'], pending: 2 },
    { name: 'CRLF endings are accepted', chunks: ['a\r\nb\r\n'], lines: ['a', 'b'], pending: 0 },
    { name: 'blank lines are skipped', chunks: ['\n\na\n \n'], lines: ['a'], pending: 0 },
  ];
  it.each(cases)('$name', ({ chunks, lines, pending }) => {
    const s = new LineSplitter(1024);
    const out: string[] = [];
    for (const c of chunks) {
      const r = s.push(b(c));
      if (!r.ok) throw new Error(r.error);
      out.push(...r.lines);
    }
    expect(out).toEqual(lines);
    expect(s.pendingBytes).toBe(pending);
  });

  it('decodes a multi-byte character cut between two chunks', () => {
    const bytes = b('{"n":"zoë 🔑"}\n');
    const s = new LineSplitter(1024);
    const cut = bytes.indexOf(0xf0) + 2; // inside the 4-byte emoji
    const first = s.push(bytes.subarray(0, cut));
    const second = s.push(bytes.subarray(cut));
    expect(first).toEqual({ ok: true, lines: [] });
    expect(second).toEqual({ ok: true, lines: ['{"n":"zoë 🔑"}'] });
  });

  it('refuses a line longer than the limit, complete or not', () => {
    expect(new LineSplitter(8).push(b('123456789\n'))).toEqual({
      ok: false,
      error: 'a line is longer than 8 bytes',
    });
    const s = new LineSplitter(8);
    expect(s.push(b('12345')).ok).toBe(true);
    expect(s.push(b('6789')).ok).toBe(false);
  });

  it('accepts a line of exactly the limit', () => {
    expect(new LineSplitter(8).push(b('12345678\n'))).toEqual({ ok: true, lines: ['12345678'] });
  });

  it('joins a long line from many chunks whole', () => {
    const line = 'x'.repeat(100_000);
    const s = new LineSplitter(200_000);
    const out: string[] = [];
    for (let i = 0; i < line.length; i += 1000) {
      const r = s.push(b(line.slice(i, i + 1000)));
      if (r.ok) out.push(...r.lines);
    }
    const last = s.push(b('\n'));
    expect(last).toEqual({ ok: true, lines: [line] });
    expect(out).toEqual([]);
  });
});
