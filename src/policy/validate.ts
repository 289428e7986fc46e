/**
 * Manifest validation, the entry points: pure functions from parsed YAML/JSON to a typed object
 * or every FieldError found. The rules live one concern a file:
 *   validate-meta.ts        apiVersion, kind, metadata
 *   validate-policy.ts      TokenPolicy spec: selector, targetPort, mode, expiry
 *   validate-reuse.ts       spec.reuse: maxUses, sharedStore
 *   validate-issuers.ts     spec.issuers: URLs, key sources, inline JWKS, algorithms
 *   validate-rules.ts       spec.rules: paths, methods, actions, scopes and claims
 *   validate-forward.ts     spec.forwardClaims: header names
 *   validate-revocation.ts  TokenRevocation
 */
import type { FieldError } from './types.js';

export { validatePolicy } from './validate-policy.js';
export { validateRevocation } from './validate-revocation.js';
export { FORBIDDEN_FORWARD_HEADERS } from './validate-forward.js';

/** Prefixes every field path: `spec.x` under `documents[1]` is `documents[1].spec.x`. */
export function prefixFieldErrors(prefix: string, errors: readonly FieldError[]): FieldError[] {
  return errors.map((err) => ({
    field:
      err.field === ''
        ? prefix
        : err.field.startsWith('[')
          ? `${prefix}${err.field}`
          : `${prefix}.${err.field}`,
    message: err.message,
  }));
}

/**
 * One line per error, `field: message`, in the order found (document order, then field order).
 * The whole object itself (empty field path) prints its message alone.
 */
export function formatFieldErrors(errors: readonly FieldError[]): string {
  return errors.map((err) => (err.field === '' ? err.message : `${err.field}: ${err.message}`)).join('\n');
}
