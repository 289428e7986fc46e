/**
 * Small toolkit shared by the manifest validators: an error collector and typed field readers
 * that record a `FieldError` (with its path) instead of throwing, so one pass reports every
 * problem. A YAML `null` (`mode:` with nothing after it) counts as absent, as the API server
 * drops nulls from non-nullable fields.
 */
import { parseRfc3339 } from './time.js';
import type { FieldError } from './types.js';

export type Obj = Record<string, unknown>;

/** Collects failures; validation never stops at the first one. */
export class Errors {
  readonly list: FieldError[] = [];
  add(field: string, message: string): void {
    this.list.push({ field, message });
  }
}

export function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function isAbsent(v: unknown): v is undefined | null {
  return v === undefined || v === null;
}

const PLAIN_KEY = /^[A-Za-z_$][\w$-]*$/;

/** `spec` + `issuers` → `spec.issuers`; odd keys are quoted: `requiredClaims["https://x/role"]`. */
export function child(path: string, key: string): string {
  if (!PLAIN_KEY.test(key)) return `${path}[${JSON.stringify(key)}]`;
  return path === '' ? key : `${path}.${key}`;
}

export function item(path: string, index: number): string {
  return `${path}[${index}]`;
}

/** Describes a value's YAML type for a message: `got a list`. */
export function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string') return `a ${typeof v}`;
  return typeof v;
}

/** YAML reads `jti: 12345` as a number; say how to fix it rather than only what is wrong. */
function stringHint(v: unknown): string {
  return typeof v === 'number' || typeof v === 'boolean' ? ` (quote it in YAML: "${String(v)}")` : '';
}

export function readObject(e: Errors, v: unknown, path: string, required: boolean): Obj | undefined {
  if (isAbsent(v)) {
    if (required) e.add(path, 'is required');
    return undefined;
  }
  if (!isObject(v)) {
    e.add(path, `must be a mapping, got ${kindOf(v)}`);
    return undefined;
  }
  return v;
}

/** Reports every key not in `allowed`: a typo such as `issuedbefore` must never be ignored. */
export function rejectUnknown(e: Errors, obj: Obj, path: string, allowed: readonly string[]): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) e.add(child(path, key), `unknown field (allowed: ${allowed.join(', ')})`);
  }
}

export interface StringOpts {
  required?: boolean;
  /** Default true: an empty string is never a meaningful value in this API. */
  nonEmpty?: boolean;
}

export function checkString(e: Errors, v: unknown, path: string, opts: StringOpts = {}): string | undefined {
  if (isAbsent(v)) {
    if (opts.required === true) e.add(path, 'is required');
    return undefined;
  }
  if (typeof v !== 'string') {
    e.add(path, `must be a string, got ${kindOf(v)}${stringHint(v)}`);
    return undefined;
  }
  if (opts.nonEmpty !== false && v.length === 0) {
    e.add(path, 'must not be empty');
    return undefined;
  }
  return v;
}

export function readString(e: Errors, obj: Obj, key: string, path: string, opts: StringOpts = {}) {
  return checkString(e, obj[key], child(path, key), opts);
}

export function readBoolean(e: Errors, obj: Obj, key: string, path: string): boolean | undefined {
  const v = obj[key];
  if (isAbsent(v)) return undefined;
  if (typeof v !== 'boolean') {
    e.add(child(path, key), `must be true or false, got ${kindOf(v)}`);
    return undefined;
  }
  return v;
}

/** An optional safe integer within [min, max]; `what` phrases the bound for the message. */
export function readInteger(
  e: Errors,
  obj: Obj,
  key: string,
  path: string,
  bounds: { min: number; max?: number; what: string; required?: boolean },
): number | undefined {
  const v = obj[key];
  const field = child(path, key);
  if (isAbsent(v)) {
    if (bounds.required === true) e.add(field, `is required (${bounds.what})`);
    return undefined;
  }
  const max = bounds.max ?? Number.MAX_SAFE_INTEGER;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < bounds.min || v > max) {
    e.add(field, `must be ${bounds.what}, got ${typeof v === 'number' ? String(v) : kindOf(v)}`);
    return undefined;
  }
  return v;
}

export function readEnum<T extends string>(
  e: Errors,
  obj: Obj,
  key: string,
  path: string,
  values: readonly T[],
): T | undefined {
  const v = obj[key];
  if (isAbsent(v)) return undefined;
  if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) {
    const got = typeof v === 'string' ? `"${v}"` : kindOf(v);
    e.add(child(path, key), `must be one of ${values.join(', ')}, got ${got}`);
    return undefined;
  }
  return v as T;
}

/** A list with at least `min` items; `none` explains why an empty list is refused. */
export function readList(
  e: Errors,
  obj: Obj,
  key: string,
  path: string,
  opts: { required?: boolean; min?: number; none?: string },
): unknown[] | undefined {
  const v = obj[key];
  const field = child(path, key);
  if (isAbsent(v)) {
    if (opts.required === true) e.add(field, 'is required');
    return undefined;
  }
  if (!Array.isArray(v)) {
    e.add(field, `must be a list, got ${kindOf(v)}`);
    return undefined;
  }
  const list: unknown[] = v;
  const min = opts.min ?? 0;
  if (list.length < min) e.add(field, opts.none ?? `must have at least ${min} item${min === 1 ? '' : 's'}`);
  return list;
}

export function readTime(e: Errors, obj: Obj, key: string, path: string): number | undefined {
  const s = readString(e, obj, key, path);
  if (s === undefined) return undefined;
  const ms = parseRfc3339(s);
  if (ms === undefined) e.add(child(path, key), 'must be an RFC 3339 time such as 2026-12-01T00:00:00Z');
  return ms;
}

/**
 * Deep copy of validated input without `null` members (absent, as the API server has them) and
 * without prototype tricks: `__proto__` keys stay plain own properties.
 */
export function cleanCopy<T>(v: T): T {
  if (Array.isArray(v)) return (v as unknown[]).map((x) => cleanCopy(x)) as T;
  if (!isObject(v)) return v;
  const entries = Object.entries(v).filter(([, x]) => x !== null && x !== undefined);
  return Object.fromEntries(entries.map(([k, x]) => [k, cleanCopy(x)])) as T;
}
