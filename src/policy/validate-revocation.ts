/**
 * TokenRevocation validation. Stricter than usual about unknown fields: a typo such as
 * `issuedbefore` silently dropped would turn "this subject's tokens issued before T" into "every
 * token of this subject", or an entry into nothing at all; both are refused with the field named.
 */
import {
  Errors,
  type Obj,
  child,
  cleanCopy,
  isAbsent,
  isObject,
  item,
  readList,
  readObject,
  readString,
  readTime,
  rejectUnknown,
} from './fields.js';
import { checkEnvelope, readObjectName } from './validate-meta.js';
import type { TokenRevocation, Validated } from './types.js';

const SPEC_FIELDS = ['policyName', 'reason', 'expiresAt', 'tokens'];
const ENTRY_FIELDS = ['jti', 'tokenSha256', 'subject', 'sid', 'issuer', 'issuedBefore'];
const MATCHERS = ['jti', 'tokenSha256', 'subject', 'sid'];
/** Lower-case hex SHA-256 of the token's signed part (README: "Protect a local app with a policy file"). */
const SHA256_HEX = /^[0-9a-f]{64}$/;

function checkEntry(e: Errors, entry: Obj, path: string): void {
  rejectUnknown(e, entry, path, ENTRY_FIELDS);
  const present = MATCHERS.filter((m) => !isAbsent(entry[m]));
  if (present.length === 0) e.add(path, 'needs a matcher: one of jti, tokenSha256, subject or sid');
  if (present.length > 1) e.add(path, `needs exactly one matcher, found ${present.join(' and ')}`);
  readString(e, entry, 'jti', path);
  const sha = readString(e, entry, 'tokenSha256', path);
  if (sha !== undefined && !SHA256_HEX.test(sha)) {
    e.add(child(path, 'tokenSha256'), 'must be 64 lower-case hex characters (SHA-256 of the signed part)');
  }
  readString(e, entry, 'subject', path);
  readString(e, entry, 'sid', path);
  readString(e, entry, 'issuer', path);
  readTime(e, entry, 'issuedBefore', path);
  // issuer narrows a subject or sid entry, issuedBefore a subject entry; alone they match nothing.
  const hasSubject = !isAbsent(entry.subject);
  if (!hasSubject && isAbsent(entry.sid) && !isAbsent(entry.issuer)) {
    e.add(child(path, 'issuer'), 'only narrows a subject or sid entry: add subject or sid');
  }
  if (!hasSubject && !isAbsent(entry.issuedBefore)) {
    e.add(child(path, 'issuedBefore'), 'only narrows a subject entry: add subject');
  }
}

function checkSpec(e: Errors, spec: Obj): void {
  rejectUnknown(e, spec, 'spec', SPEC_FIELDS);
  readObjectName(e, spec, 'policyName', 'spec', false);
  readString(e, spec, 'reason', 'spec', { nonEmpty: false });
  readTime(e, spec, 'expiresAt', 'spec');
  const none = 'must list at least one token entry';
  const tokens = readList(e, spec, 'tokens', 'spec', { required: true, min: 1, none });
  tokens?.forEach((v, i) => {
    const path = item('spec.tokens', i);
    const entry = readObject(e, v, path, true);
    if (entry !== undefined) checkEntry(e, entry, path);
  });
}

/** Validates a TokenRevocation; the value is a copy with YAML nulls dropped. */
export function validateRevocation(obj: unknown): Validated<TokenRevocation> {
  const e = new Errors();
  const spec = checkEnvelope(e, obj, 'TokenRevocation');
  if (spec !== undefined) checkSpec(e, spec);
  if (e.list.length > 0 || !isObject(obj)) return { ok: false, errors: e.list };
  return { ok: true, value: cleanCopy(obj) as unknown as TokenRevocation };
}
