import { describe, expect, it } from 'vitest';
import { compilePolicy } from '../../../src/policy/compile.js';
import type { TokenPolicy } from '../../../src/policy/types.js';
import { validatePolicy } from '../../../src/policy/validate.js';
import { policyWarnings } from '../../../src/policy/warnings.js';
import { validPolicy } from '../../support/manifests.js';

function withExpiry(expiry: Record<string, unknown> | undefined): TokenPolicy {
  const p = validPolicy();
  p.spec.expiry = expiry;
  const v = validatePolicy(p, { standalone: false });
  if (!v.ok) throw new Error(JSON.stringify(v.errors));
  return v.value;
}

describe('policyWarnings', () => {
  it('warns when neither a lifetime nor an age cap is set', () => {
    const got = policyWarnings(compilePolicy(withExpiry({ clockSkewSeconds: 30 })));
    expect(got.map((w) => w.reason)).toEqual(['NoLifetimeCap']);
    expect(got[0]?.message).toContain('maxLifetimeSeconds');
  });

  it('warns when there is no expiry block at all', () => {
    expect(policyWarnings(compilePolicy(withExpiry(undefined))).map((w) => w.reason)).toEqual([
      'NoLifetimeCap',
    ]);
  });

  it.each([{ maxLifetimeSeconds: 3600 }, { maxTokenAgeSeconds: 3600 }])('is quiet with %o', (expiry) => {
    expect(policyWarnings(compilePolicy(withExpiry(expiry)))).toEqual([]);
  });
});
