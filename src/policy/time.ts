/**
 * RFC 3339 date-times, as the API uses them (`expiresAt`, `issuedBefore`). Stricter than
 * `Date.parse`, which accepts other shapes and silently rolls 2026-02-31 over to March.
 */

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))$/;

/** Milliseconds since the epoch, or undefined when `s` is not an RFC 3339 date-time. */
export function parseRfc3339(s: string): number | undefined {
  const m = RFC3339.exec(s);
  if (m === null) return undefined;
  const [year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0] = m.slice(1, 7).map(Number);
  const [offsetHours = 0, offsetMinutes = 0] = [m[9], m[10]].map(Number);
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 60) return undefined;
  if (offsetHours > 23 || offsetMinutes > 59) return undefined;
  const calendar = new Date(0);
  calendar.setUTCFullYear(year, month - 1, day);
  if (day < 1 || calendar.getUTCDate() !== day) return undefined;
  // RFC 3339 allows a leap second (:60); Date.parse does not, so read :59 and add one second.
  const leap = second === 60;
  const text = (leap ? s.replace(/:60(?=[.Zz+-])/, ':59') : s).toUpperCase();
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) return undefined;
  return leap ? ms + 1000 : ms;
}

/** Whole or fractional seconds since the epoch, or undefined. */
export function parseRfc3339Seconds(s: string): number | undefined {
  const ms = parseRfc3339(s);
  return ms === undefined ? undefined : ms / 1000;
}
