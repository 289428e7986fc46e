/**
 * Table runner for TokenPolicy validation cases: each case breaks one thing in a valid policy
 * and names exactly the field paths that must be reported, in order.
 */
import { expect, it } from 'vitest';
import { validatePolicy } from '../../../src/policy/validate.js';
import { type Loose, validPolicy } from '../../support/manifests.js';

export interface BadCase {
  name: string;
  /** Breaks a valid policy. */
  mutate: (p: Loose) => void;
  /** Exactly the field paths reported, in order. */
  fields: string[];
  /** A fragment of the first message. */
  message?: string;
  standalone?: boolean;
}

export const issuer = (p: Loose): Loose => p.spec.issuers[0];
export const rule = (p: Loose, i = 0): Loose => p.spec.rules[i];

export function itRejects(cases: BadCase[]): void {
  it.each(cases)('$name', ({ mutate, fields, message, standalone }) => {
    const p = validPolicy();
    mutate(p);
    const result = validatePolicy(p, { standalone: standalone ?? false });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors.map((e) => e.field)).toEqual(fields);
    if (message !== undefined) expect(result.errors[0]?.message).toContain(message);
  });
}
