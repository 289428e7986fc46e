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
