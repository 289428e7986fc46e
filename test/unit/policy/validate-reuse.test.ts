import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compilePolicy } from '../../../src/policy/compile.js';
import { validatePolicy } from '../../../src/policy/validate.js';
import { parseStoreAddress } from '../../../src/policy/validate-reuse.js';

function policy(reuse: unknown): unknown {
  return {
    apiVersion: 'tokenwarden.dev/v1alpha1',
    kind: 'TokenPolicy',
    metadata: { name: 'p', namespace: 'shop' },
    spec: {
      issuers: [
        { issuer: 'https://auth.example.com/', audiences: ['a'], jwksUri: 'https://auth.example.com/jwks' },
      ],
      reuse,
    },
  };
}

function errors(reuse: unknown): string[] {
  const v = validatePolicy(policy(reuse), { standalone: true });
  return v.ok ? [] : v.errors.map((e) => `${e.field}: ${e.message}`);
}

describe('spec.reuse.sharedStore', () => {
  it('accepts each mode and compiles defaults', () => {
    const ok = { mode: 'Sentinel', addresses: ['s1:26379', '[::1]:26379'], sentinelMasterName: 'mymaster' };
    expect(errors({ maxUses: 1, sharedStore: ok })).toEqual([]);
    const v = validatePolicy(policy({ maxUses: 1, sharedStore: { ...ok, tls: {} } }), { standalone: true });
    if (!v.ok) throw new Error('invalid');
    const c = compilePolicy(v.value);
    expect(c.reuse?.onUnavailable).toBe('refuse');
    expect(c.reuse?.shared).toMatchObject({
      mode: 'sentinel',
      addresses: [
        { host: 's1', port: 26379 },
        { host: '::1', port: 26379 },
      ],
      sentinelMasterName: 'mymaster',
      tls: { serverName: undefined },
      timeoutMs: 50,
    });
    expect(errors({ sharedStore: { mode: 'Cluster', addresses: ['a:1', 'b:2', 'c:3'] } })).toEqual([]);
  });

  it('compiles whenUnavailable: CountPerPod and leaves reuse undefined without a shared store', () => {
    const v = validatePolicy(
      policy({ sharedStore: { mode: 'Standalone', addresses: ['r:6379'], whenUnavailable: 'CountPerPod' } }),
      { standalone: true },
    );
    if (!v.ok) throw new Error('invalid');
    expect(compilePolicy(v.value).reuse?.onUnavailable).toBe('count_per_pod');
    const plain = validatePolicy(policy({ maxUses: 2 }), { standalone: true });
    if (!plain.ok) throw new Error('invalid');
    expect(compilePolicy(plain.value).reuse).toBeUndefined();
  });

  it.each([
    [{ addresses: ['r:1'] }, 'spec.reuse.sharedStore.mode: is required'],
    [{ mode: 'Replica', addresses: ['r:1'] }, 'spec.reuse.sharedStore.mode: must be one of'],
    [{ mode: 'Standalone' }, 'spec.reuse.sharedStore.addresses: is required'],
    [{ mode: 'Standalone', addresses: [] }, 'spec.reuse.sharedStore.addresses: must list at least one'],
    [{ mode: 'Standalone', addresses: ['redis'] }, 'spec.reuse.sharedStore.addresses[0]: must be host:port'],
    [
      { mode: 'Standalone', addresses: ['r:70000'] },
      'spec.reuse.sharedStore.addresses[0]: must be host:port',
    ],
    [{ mode: 'Sentinel', addresses: ['r:1'] }, 'spec.reuse.sharedStore.sentinelMasterName: is required'],
    [
      { mode: 'Cluster', addresses: ['r:1'], sentinelMasterName: 'm' },
      'spec.reuse.sharedStore.sentinelMasterName: is only allowed',
    ],
    [
      { mode: 'Standalone', addresses: ['r:1'], timeoutMilliseconds: 0 },
      'spec.reuse.sharedStore.timeoutMilliseconds',
    ],
    [
      { mode: 'Standalone', addresses: ['r:1'], whenUnavailable: 'Open' },
      'spec.reuse.sharedStore.whenUnavailable',
    ],
    [
      { mode: 'Standalone', addresses: ['r:1'], credentialsSecretRef: { name: 'Bad_Name' } },
      'spec.reuse.sharedStore.credentialsSecretRef.name',
    ],
    [
      { mode: 'Standalone', addresses: ['r:1'], credentialsSecretRef: { name: 's', password: 'x' } },
      'spec.reuse.sharedStore.credentialsSecretRef.password: unknown field',
    ],
    [
      { mode: 'Standalone', addresses: ['r:1'], tls: { caSecretRef: {} } },
      'spec.reuse.sharedStore.tls.caSecretRef.name',
    ],
    [
      { mode: 'Standalone', addresses: ['r:1'], password: 'x' },
      'spec.reuse.sharedStore.password: unknown field',
    ],
  ])('refuses %j naming the field', (sharedStore, message) => {
    const found = errors({ maxUses: 1, sharedStore });
    expect(
      found.some((e) => e.startsWith(message)),
      found.join('\n'),
    ).toBe(true);
  });

  it('parses every host:port it accepts back to the same parts (property)', () => {
    const host = fc.stringMatching(/^[a-z0-9]([a-z0-9.-]{0,20}[a-z0-9])?$/);
    fc.assert(
      fc.property(host, fc.integer({ min: 1, max: 65535 }), (h, port) => {
        expect(parseStoreAddress(`${h}:${port}`)).toEqual({ host: h, port });
      }),
    );
    fc.assert(
      fc.property(fc.string(), (s) => {
        const a = parseStoreAddress(s);
        if (a !== undefined) expect(a.port).toBeGreaterThanOrEqual(1);
      }),
    );
  });
});
