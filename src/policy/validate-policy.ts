/**
 * TokenPolicy validation: every problem, each with its field path, never only the first. The
 * same rules as the CRD's schema and CEL, so a standalone file and `kubectl apply` agree.
 * Defaults are not filled in (compile.ts does that), with one exception: a rule without an
 * `action` gets `Authenticate`, as the CRD schema's `default` does on the API server.
 */
import {
  Errors,
  type Obj,
  checkString,
  child,
  cleanCopy,
  isAbsent,
  isObject,
  item,
  readBoolean,
  readEnum,
  readInteger,
  readList,
  readObject,
  rejectUnknown,
} from './fields.js';
import { ADMIN_PORT, PROXY_PORT } from '../core/injection.js';
import { checkEnvelope } from './validate-meta.js';
import { checkForwardClaims } from './validate-forward.js';
import { checkIssuers } from './validate-issuers.js';
import { checkRequestOptions } from './validate-request.js';
import { checkReuse } from './validate-reuse.js';
import { checkRules } from './validate-rules.js';
import type { Mode, RuleSpec, TokenPolicy, Validated } from './types.js';

const SPEC_FIELDS = [
  'selector',
  'targetPort',
  'mode',
  'issuers',
  'expiry',
  'reuse',
  'rules',
  'forwardClaims',
  'forwardToken',
  'trustedProxies',
  'paths',
  'http',
];
const MODES: readonly Mode[] = ['Enforce', 'Audit'];
/** The sidecar's proxy and admin ports inside an injected pod. */
const RESERVED_POD_PORTS: readonly number[] = [PROXY_PORT, ADMIN_PORT];
const OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist'];

function checkSelector(e: Errors, spec: Obj, standalone: boolean): void {
  // Optional and ignored in a standalone file, but a present selector must still be well formed.
  const selector = readObject(e, spec.selector, 'spec.selector', !standalone);
  if (selector === undefined) return;
  rejectUnknown(e, selector, 'spec.selector', ['matchLabels', 'matchExpressions']);
  const labels = readObject(e, selector.matchLabels, 'spec.selector.matchLabels', false);
  for (const [key, value] of Object.entries(labels ?? {})) {
    checkString(e, value, child('spec.selector.matchLabels', key), { required: true, nonEmpty: false });
  }
  const expressions = readList(e, selector, 'matchExpressions', 'spec.selector', {});
  expressions?.forEach((v, i) => {
    const path = item('spec.selector.matchExpressions', i);
    const expr = readObject(e, v, path, true);
    if (expr === undefined) return;
    rejectUnknown(e, expr, path, ['key', 'operator', 'values']);
    checkString(e, expr.key, child(path, 'key'), { required: true });
    const op = readEnum(e, expr, 'operator', path, OPERATORS);
    if (op === undefined && isAbsent(expr.operator)) e.add(child(path, 'operator'), 'is required');
    const values = readList(e, expr, 'values', path, {});
    values?.forEach((x, j) => checkString(e, x, item(child(path, 'values'), j), { required: true }));
    const count = values?.length ?? 0;
    if ((op === 'In' || op === 'NotIn') && count === 0)
      e.add(child(path, 'values'), `must not be empty for ${op}`);
    if ((op === 'Exists' || op === 'DoesNotExist') && count > 0) {
      e.add(child(path, 'values'), `must be empty for ${op}`);
    }
  });
}

function checkExpiry(e: Errors, spec: Obj): void {
  const expiry = readObject(e, spec.expiry, 'spec.expiry', false);
  if (expiry === undefined) return;
  const path = 'spec.expiry';
  rejectUnknown(e, expiry, path, [
    'requireExp',
    'clockSkewSeconds',
    'maxTokenAgeSeconds',
    'maxLifetimeSeconds',
  ]);
  readBoolean(e, expiry, 'requireExp', path);
  readInteger(e, expiry, 'clockSkewSeconds', path, { min: 0, max: 300, what: 'an integer from 0 to 300' });
  readInteger(e, expiry, 'maxTokenAgeSeconds', path, { min: 1, what: 'a positive integer' });
  readInteger(e, expiry, 'maxLifetimeSeconds', path, { min: 1, what: 'a positive integer' });
}

function checkSpec(e: Errors, spec: Obj, standalone: boolean): void {
  rejectUnknown(e, spec, 'spec', SPEC_FIELDS);
  checkSelector(e, spec, standalone);
  const port = { min: 1, max: 65535, what: 'a port number from 1 to 65535', required: !standalone };
  const targetPort = readInteger(e, spec, 'targetPort', 'spec', port);
  // The injected sidecar listens on 15080 (proxy) and 15090 (admin) in the app's pod; the CRD's
  // CEL rule refuses the same two ports.
  if (!standalone && targetPort !== undefined && RESERVED_POD_PORTS.includes(targetPort)) {
    e.add(
      'spec.targetPort',
      `must not be 15080 or 15090 (the sidecar's proxy and admin ports), got ${targetPort}`,
    );
  }
  readEnum(e, spec, 'mode', 'spec', MODES);
  checkIssuers(e, spec);
  checkExpiry(e, spec);
  checkReuse(e, spec);
  checkRules(e, spec);
  checkForwardClaims(e, spec);
  checkRequestOptions(e, spec);
}

/** A copy of the valid input, nulls dropped and rule actions defaulted (see the file comment). */
function validatedCopy(obj: Obj): TokenPolicy {
  const policy = cleanCopy(obj) as unknown as TokenPolicy;
  for (const rule of (policy.spec.rules ?? []) as Partial<RuleSpec>[]) rule.action ??= 'Authenticate';
  return policy;
}

/**
 * Validates a TokenPolicy. `standalone`: from a file given to `tokenwarden sidecar --policy`,
 * where `selector` and `targetPort` are optional (no pods to select, the upstream is a flag).
 */
export function validatePolicy(obj: unknown, opts: { standalone: boolean }): Validated<TokenPolicy> {
  const e = new Errors();
  const spec = checkEnvelope(e, obj, 'TokenPolicy');
  if (spec !== undefined) checkSpec(e, spec, opts.standalone);
  if (e.list.length > 0 || !isObject(obj)) return { ok: false, errors: e.list };
  return { ok: true, value: validatedCopy(obj) };
}
