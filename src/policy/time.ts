/**
 * RFC 3339 date-times, as the API uses them (`expiresAt`, `issuedBefore`). Stricter than
 * `Date.parse`, which accepts other shapes and silently rolls 2026-02-31 over to March.
 */

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))$/;

/** Days in `month` (1-12) of `year` (proleptic Gregorian). */
function daysIn(year: number, month: number): number {
  if (month !== 2) return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
}

/**
 * Milliseconds since the epoch, or undefined when `s` is not an RFC 3339 date-time. Computed
 * with arithmetic on the matched fields (no Date.parse): revocation sets parse one per entry,
 * 100k of them per snapshot. Fractions beyond milliseconds are truncated; a leap second (:60)
 * counts as the first instant of the next minute.
 */
export function parseRfc3339(s: string): number | undefined {
  const m = RFC3339.exec(s);
  if (m === null) return undefined;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = Number(m[6]);
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 60) return undefined;
  if (day < 1 || day > daysIn(year, month)) return undefined;
  let offsetMinutes = 0;
  if (m[9] !== undefined) {
    const oh = Number(m[9]);
    const om = Number(m[10]);
    if (oh > 23 || om > 59) return undefined;
    offsetMinutes = (m[8]?.startsWith('-') ? -1 : 1) * (oh * 60 + om);
  }
  const fraction = m[7] === undefined ? 0 : Math.floor(Number(`0${m[7]}`) * 1000 + 1e-6);
  // Date.UTC maps years 0-99 to 1900-1999; shift them through a known year of the same cycle.
  const base =
    year < 100 ? Date.UTC(year + 400, month - 1, day) - 12_622_780_800_000 : Date.UTC(year, month - 1, day);
  return base + ((hour * 60 + minute - offsetMinutes) * 60 + second) * 1000 + fraction;
}

/** Whole or fractional seconds since the epoch, or undefined. */
export function parseRfc3339Seconds(s: string): number | undefined {
  const ms = parseRfc3339(s);
  return ms === undefined ? undefined : ms / 1000;
}
