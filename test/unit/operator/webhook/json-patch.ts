/**
 * A minimal RFC 6902 applier (add / replace / remove) for the tests: it checks the webhook's
 * patches the way the API server reads them — `add` to a missing parent fails, `replace` and
 * `remove` of a missing member fail — so a patch that only works by luck does not pass.
 */
import type { JsonValue, PatchOp } from '../../../../src/operator/webhook/patch.js';

function unescape(token: string): string {
  return token.replace(/~1/g, '/').replace(/~0/g, '~');
}

export function applyPatch(doc: JsonValue, ops: readonly PatchOp[]): JsonValue {
  let root = structuredClone(doc);
  for (const op of ops) {
    if (op.path === '') {
      if (op.op === 'remove') throw new Error('cannot remove the root');
      root = structuredClone(op.value);
      continue;
    }
    const tokens = op.path.split('/').slice(1).map(unescape);
    const last = tokens.pop()!;
    let parent: JsonValue = root;
    for (const t of tokens) {
      const next: JsonValue | undefined = Array.isArray(parent)
        ? parent[Number(t)]
        : typeof parent === 'object' && parent !== null
          ? parent[t]
          : undefined;
      if (next === undefined) throw new Error(`${op.op} ${op.path}: missing parent at "${t}"`);
      parent = next;
    }
    if (Array.isArray(parent)) {
      const i = last === '-' ? parent.length : Number(last);
      if (!Number.isInteger(i) || i < 0 || i > parent.length) throw new Error(`${op.path}: bad index`);
      if (op.op === 'add') parent.splice(i, 0, structuredClone(op.value));
      else if (i >= parent.length) throw new Error(`${op.op} ${op.path}: no element`);
      else if (op.op === 'replace') parent[i] = structuredClone(op.value);
      else parent.splice(i, 1);
    } else if (typeof parent === 'object' && parent !== null) {
      const has = Object.hasOwn(parent, last);
      if (op.op !== 'add' && !has) throw new Error(`${op.op} ${op.path}: no member`);
      if (op.op === 'remove') delete parent[last];
      else parent[last] = structuredClone(op.value);
    } else {
      throw new Error(`${op.path}: parent is a scalar`);
    }
  }
  return root;
}
