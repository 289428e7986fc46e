/**
 * The Ready condition reasons of both kinds, and the one way a list of validation errors
 * becomes a condition message. Reasons are also the Event reasons (one closed set, reused
 * unchanged).
 */
import type { FieldError } from '../../policy/types.js';

/**
 * TokenPolicy. Ready=True: `Compiled`; Ready=False: `InvalidSpec` (names the field) or
 * `KeysUnavailable` (names the issuer).
 */
export type PolicyReadyReason = 'Compiled' | 'InvalidSpec' | 'KeysUnavailable';

/** TokenRevocation. Ready=True: `Accepted`; Ready=False: `InvalidSpec` (names the field). */
export type RevocationReadyReason = 'Accepted' | 'InvalidSpec';

export interface ReadyState<R extends string = PolicyReadyReason> {
  readonly status: 'True' | 'False';
  readonly reason: R;
  readonly message: string;
}

/** Clips one part of a message so one verbose error cannot crowd out the others. */
export function clip(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 3)}...` : s;
}

/**
 * `field: message; field: message`, each part clipped to `maxPart` characters. An error about
 * the whole object (empty field) is its message alone.
 */
export function formatFieldErrors(errors: readonly FieldError[], maxPart = Number.POSITIVE_INFINITY): string {
  return errors.map((e) => clip(e.field === '' ? e.message : `${e.field}: ${e.message}`, maxPart)).join('; ');
}
