import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseRfc3339, parseRfc3339Seconds } from '../../../src/policy/time.js';

const cases: { name: string; text: string; ms: number | undefined }[] = [
  { name: 'UTC with Z', text: '2026-12-01T00:00:00Z', ms: Date.UTC(2026, 11, 1) },
  { name: 'lower-case t and z', text: '2026-12-01t00:00:00z', ms: Date.UTC(2026, 11, 1) },
  { name: 'a positive offset', text: '2026-12-01T02:00:00+02:00', ms: Date.UTC(2026, 11, 1) },
  { name: 'a negative offset', text: '2026-11-30T19:00:00-05:00', ms: Date.UTC(2026, 11, 1) },
  { name: 'fractional seconds', text: '2026-12-01T00:00:00.250Z', ms: Date.UTC(2026, 11, 1) + 250 },
  { name: 'a leap second', text: '2016-12-31T23:59:60Z', ms: Date.UTC(2017, 0, 1) },
  { name: 'the 29th of February of a leap year', text: '2028-02-29T00:00:00Z', ms: Date.UTC(2028, 1, 29) },
  { name: 'not the 29th of February otherwise', text: '2026-02-29T00:00:00Z', ms: undefined },
  { name: 'not month 13', text: '2026-13-01T00:00:00Z', ms: undefined },
  { name: 'not day 0', text: '2026-12-00T00:00:00Z', ms: undefined },
  { name: 'not hour 24', text: '2026-12-01T24:00:00Z', ms: undefined },
  { name: 'not minute 60', text: '2026-12-01T00:60:00Z', ms: undefined },
  { name: 'not an offset of 24 hours', text: '2026-12-01T00:00:00+24:00', ms: undefined },
  { name: 'not without an offset', text: '2026-12-01T00:00:00', ms: undefined },
  { name: 'not a space for T', text: '2026-12-01 00:00:00Z', ms: undefined },
  { name: 'not a date alone', text: '2026-12-01', ms: undefined },
  { name: 'not epoch seconds', text: '1764547200', ms: undefined },
  { name: 'not surrounded by spaces', text: ' 2026-12-01T00:00:00Z', ms: undefined },
];

describe('parseRfc3339', () => {
  it.each(cases)('$name', ({ text, ms }) => {
    expect(parseRfc3339(text)).toBe(ms);
  });

  it('gives seconds too', () => expect(parseRfc3339Seconds('1970-01-01T00:00:01.5Z')).toBe(1.5));
});

/** The previous implementation (Date.parse based), kept as the reference for the fast one. */
function reference(s: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))$/.exec(s);
  if (m === null) return undefined;
  const [year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0] = m.slice(1, 7).map(Number);
  const [offsetHours = 0, offsetMinutes = 0] = [m[9], m[10]].map(Number);
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 60) return undefined;
  if (offsetHours > 23 || offsetMinutes > 59) return undefined;
  const calendar = new Date(0);
  calendar.setUTCFullYear(year, month - 1, day);
  if (day < 1 || calendar.getUTCDate() !== day) return undefined;
  const leap = second === 60;
  const text = (leap ? s.replace(/:60(?=[.Zz+-])/, ':59') : s).toUpperCase();
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) return undefined;
  return leap ? ms + 1000 : ms;
}

describe('parseRfc3339 agrees with the Date.parse reference', () => {
  const d2 = (lo: number, hi: number): fc.Arbitrary<string> =>
    fc.integer({ min: lo, max: hi }).map((n) => String(n).padStart(2, '0'));
  const text = fc
    .tuple(
      fc.integer({ min: 1970, max: 2400 }).map(String),
      d2(0, 13),
      d2(0, 32),
      d2(0, 24),
      d2(0, 60),
      d2(0, 60),
      fc.constantFrom('', '.5', '.25', '.123', '.123456', '.999999'),
      fc.oneof(
        fc.constantFrom('Z', 'z'),
        fc.tuple(fc.constantFrom('+', '-'), d2(0, 24), d2(0, 60)).map(([a, b, c]) => `${a}${b}:${c}`),
      ),
    )
    .map(([y, mo, d, h, mi, s, f, z]) => `${y}-${mo}-${d}T${h}:${mi}:${s}${f}${z}`);
  it('on random date-times, valid and not', () => {
    fc.assert(
      fc.property(text, (t) => parseRfc3339(t) === reference(t)),
      { numRuns: 5000 },
    );
  });
});
