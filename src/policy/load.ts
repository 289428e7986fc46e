/**
 * A standalone policy file: YAML documents holding exactly one TokenPolicy and any number of
 * TokenRevocations. Every problem of every document is reported, each field path prefixed with
 * its document (`documents[1].spec.tokens[0].tokenSha256`). Revocations naming another policy
 * are kept: RevocationSet.build filters by policy, in one place for both file and cluster.
 */
import { LineCounter, parseAllDocuments } from 'yaml';
import { isObject, kindOf } from './fields.js';
import { prefixFieldErrors, validatePolicy, validateRevocation } from './validate.js';
import type { FieldError, TokenPolicy, TokenRevocation, Validated } from './types.js';

/** A policy file is a few kilobytes; this is far above any real one and bounds parsing work. */
export const MAX_POLICY_FILE_BYTES = 4 * 1024 * 1024;
/** Aliases expand on conversion ("billion laughs"); a policy file has no reason to use many. */
export const MAX_ALIAS_COUNT = 100;

export interface PolicyDocuments {
  policy: TokenPolicy;
  revocations: TokenRevocation[];
}

function docField(index: number): string {
  return `documents[${index}]`;
}

type ParsedDocument = ReturnType<typeof parseAllDocuments>[number];

/** Syntax errors of one document, with 1-based line and column. */
function syntaxErrors(doc: ParsedDocument, index: number, lines: LineCounter): FieldError[] {
  return doc.errors.map((err) => {
    const { line, col } = lines.linePos(err.pos[0]);
    return {
      field: docField(index),
      message: `YAML syntax error at line ${line}, column ${col}: ${err.message}`,
    };
  });
}

/** Plain data of one parsed document, or why it cannot be had (too many aliases). */
function toData(doc: ParsedDocument, index: number): { data: unknown } | { error: FieldError } {
  try {
    return { data: doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return { error: { field: docField(index), message: `cannot read document: ${message}` } };
  }
}

/** Validates one document by its kind; field paths are relative to the document. */
function validateDocument(data: unknown, opts: { standalone: boolean }) {
  if (!isObject(data)) {
    const message = `must be a TokenPolicy or TokenRevocation mapping, got ${kindOf(data)}`;
    return { ok: false as const, errors: [{ field: '', message }] };
  }
  if (data.kind === 'TokenPolicy') return validatePolicy(data, opts);
  if (data.kind === 'TokenRevocation') return validateRevocation(data);
  const got = typeof data.kind === 'string' ? `"${data.kind}"` : kindOf(data.kind);
  const message = `must be TokenPolicy or TokenRevocation, got ${got}`;
  return { ok: false as const, errors: [{ field: 'kind', message }] };
}

export function parsePolicyDocuments(
  yamlText: string,
  opts: { standalone: boolean },
): Validated<PolicyDocuments> {
  if (Buffer.byteLength(yamlText, 'utf8') > MAX_POLICY_FILE_BYTES) {
    return {
      ok: false,
      errors: [{ field: 'documents', message: `larger than ${MAX_POLICY_FILE_BYTES} bytes` }],
    };
  }
  const lines = new LineCounter();
  const docs = parseAllDocuments(yamlText, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const errors: FieldError[] = [];
  const policies: { index: number; value: TokenPolicy }[] = [];
  const revocations: TokenRevocation[] = [];

  docs.forEach((doc, index) => {
    if (doc.errors.length > 0) {
      errors.push(...syntaxErrors(doc, index, lines));
      return;
    }
    const read = toData(doc, index);
    if ('error' in read) {
      errors.push(read.error);
      return;
    }
    if (read.data === null || read.data === undefined) return; // empty, e.g. after a final `---`
    const result = validateDocument(read.data, opts);
    if (!result.ok) errors.push(...prefixFieldErrors(docField(index), result.errors));
    else if (result.value.kind === 'TokenPolicy') policies.push({ index, value: result.value });
    else revocations.push(result.value);
  });

  const [first, ...extra] = policies;
  for (const other of extra) {
    const message = `a second TokenPolicy (the first is ${docField(first?.index ?? 0)}): a file holds exactly one`;
    errors.push({ field: docField(other.index), message });
  }
  if (errors.length > 0) return { ok: false, errors };
  if (first === undefined)
    return { ok: false, errors: [{ field: 'documents', message: 'no TokenPolicy found' }] };
  return { ok: true, value: { policy: first.value, revocations } };
}
