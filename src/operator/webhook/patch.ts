/**
 * RFC 6902 JSON Patch from two JSON documents, pure. Objects are diffed member by member; an
 * array whose length changed is replaced whole (one `add`/`replace` of the new array) rather
 * than index by index, so the patch reads as what injection did ("initContainers is now …")
 * and never depends on the API server applying a chain of index shifts. Equal-length arrays
 * are diffed element by element.
 *
 * Why not fast-json-patch's compare: it diffs arrays index by index from the end, which turns
 * "prepend an init container" into a replace of every element plus an add; same result,
 * unreadable golden fixtures. test/unit/operator/webhook/patch.test.ts checks the invariant
 * apply(diff(a, b), a) = b on generated documents.
 */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };

export type PatchOp =
  | { op: 'add'; path: string; value: JsonValue }
  | { op: 'replace'; path: string; value: JsonValue }
  | { op: 'remove'; path: string };

/** RFC 6901: `~` → `~0`, `/` → `~1` (annotation keys hold slashes). */
export function escapePointer(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}

function isObject(v: JsonValue | undefined): v is { [k: string]: JsonValue } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function equal(a: JsonValue, b: JsonValue): boolean {
  if (a === b) return true;
  if (Array.isArray(a))
    return Array.isArray(b) && a.length === b.length && a.every((x, i) => equal(x, b[i]!));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && equal(a[k]!, b[k]!));
  }
  return false;
}

export function diff(from: JsonValue, to: JsonValue, path = ''): PatchOp[] {
  if (equal(from, to)) return [];
  if (isObject(from) && isObject(to)) {
    const ops: PatchOp[] = [];
    for (const key of Object.keys(from)) {
      if (!Object.hasOwn(to, key)) ops.push({ op: 'remove', path: `${path}/${escapePointer(key)}` });
    }
    for (const [key, value] of Object.entries(to)) {
      const p = `${path}/${escapePointer(key)}`;
      if (!Object.hasOwn(from, key)) ops.push({ op: 'add', path: p, value });
      else ops.push(...diff(from[key]!, value, p));
    }
    return ops;
  }
  if (Array.isArray(from) && Array.isArray(to) && from.length === to.length) {
    return from.flatMap((x, i) => diff(x, to[i]!, `${path}/${i}`));
  }
  // The root itself, a scalar, a type change or an array of another length: replace the value.
  return [{ op: 'replace', path, value: to }];
}
