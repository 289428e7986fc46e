/**
 * The request-handling options of a TokenPolicy (ADR 0007): `forwardToken`, `trustedProxies`,
 * `paths` (caseInsensitive, matrixParameters) and `http` (allowUnderscoreHeaders). Their
 * defaults are the safe reading; each option exists for an app that needs the other one.
 */
import { parseCidr } from './cidr.js';
import {
  type Errors,
  type Obj,
  checkString,
  item,
  readBoolean,
  readEnum,
  readList,
  readObject,
  rejectUnknown,
} from './fields.js';
import { MATRIX_PARAMETERS } from './types.js';

/** More ranges than this is a sign the list should be a smaller set of wider ones. */
export const MAX_TRUSTED_PROXIES = 64;

function checkTrustedProxies(e: Errors, spec: Obj): void {
  const none = 'must list at least one CIDR, or be left out to trust no proxy';
  const list = readList(e, spec, 'trustedProxies', 'spec', { min: 1, none });
  if (list !== undefined && list.length > MAX_TRUSTED_PROXIES) {
    e.add('spec.trustedProxies', `must list at most ${MAX_TRUSTED_PROXIES} CIDRs`);
  }
  list?.forEach((v, i) => {
    const field = item('spec.trustedProxies', i);
    const text = checkString(e, v, field, { required: true });
    if (text === undefined) return;
    const parsed = parseCidr(text);
    if (!parsed.ok) e.add(field, parsed.message);
  });
}

export function checkRequestOptions(e: Errors, spec: Obj): void {
  readBoolean(e, spec, 'forwardToken', 'spec');
  checkTrustedProxies(e, spec);
  const paths = readObject(e, spec.paths, 'spec.paths', false);
  if (paths !== undefined) {
    rejectUnknown(e, paths, 'spec.paths', ['caseInsensitive', 'matrixParameters']);
    readBoolean(e, paths, 'caseInsensitive', 'spec.paths');
    readEnum(e, paths, 'matrixParameters', 'spec.paths', MATRIX_PARAMETERS);
  }
  const http = readObject(e, spec.http, 'spec.http', false);
  if (http !== undefined) {
    rejectUnknown(e, http, 'spec.http', ['allowUnderscoreHeaders']);
    readBoolean(e, http, 'allowUnderscoreHeaders', 'spec.http');
  }
}
