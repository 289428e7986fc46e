import { describe, expect, it } from 'vitest';
import { readStoreSecrets } from '../../../src/shared-store/credentials.js';
import { reuseTtlMs, sharedReuseKey } from '../../../src/shared-store/key.js';
import { sharedStoreEnv } from '../../../src/shared-store/pod-env.js';

describe('shared reuse key', () => {
  const k = { policy: 'orders', issuer: 'https://i/', jti: 'abc' };

  it('is a hashed, hash-tagged key that names no token identifier', () => {
    const key = sharedReuseKey('shop', k);
    expect(key).toMatch(/^tokenwarden:reuse:\{[0-9a-f]{64}\}$/);
    expect(key).not.toContain('abc');
  });

  it('differs by namespace, policy, issuer and jti, and cannot be forged by moving a boundary', () => {
    const keys = new Set([
      sharedReuseKey('shop', k),
      sharedReuseKey('shop2', k),
      sharedReuseKey('shop', { ...k, policy: 'orders2' }),
      sharedReuseKey('shop', { ...k, issuer: 'https://i/a', jti: 'bc' }),
      sharedReuseKey('shop', { ...k, jti: 'abd' }),
    ]);
    expect(keys.size).toBe(5);
  });

  it('lives until exp plus skew, at least a second; forever (0) without exp', () => {
    expect(reuseTtlMs(1000, 30, 900)).toBe(130_000);
    expect(reuseTtlMs(1000, 0, 2000)).toBe(1000);
    expect(reuseTtlMs(Infinity, 30, 0)).toBe(0);
  });
});

describe('store secrets', () => {
  it('come from the environment only', () => {
    expect(
      readStoreSecrets({ TOKENWARDEN_REUSE_STORE_PASSWORD: 'p', TOKENWARDEN_REUSE_STORE_USERNAME: 'u' }),
    ).toEqual({
      username: 'u',
      password: 'p',
      ca: undefined,
    });
    expect(readStoreSecrets({})).toEqual({ username: undefined, password: undefined, ca: undefined });
  });

  it('name the variable, never the value, when a file cannot be read', () => {
    expect(() => readStoreSecrets({ TOKENWARDEN_REUSE_STORE_PASSWORD_FILE: '/nonexistent/x' })).toThrow(
      'TOKENWARDEN_REUSE_STORE_PASSWORD_FILE could not be read: ENOENT',
    );
  });
});

describe('the injected sidecar env', () => {
  it('references the Secrets the policy names, never a value', () => {
    const spec = {
      reuse: {
        sharedStore: {
          mode: 'Standalone',
          addresses: ['r:6379'],
          credentialsSecretRef: { name: 'valkey-auth' },
          tls: { caSecretRef: { name: 'valkey-ca' } },
        },
      },
    };
    expect(sharedStoreEnv(spec)).toEqual([
      {
        name: 'TOKENWARDEN_REUSE_STORE_USERNAME',
        valueFrom: { secretKeyRef: { name: 'valkey-auth', key: 'username', optional: true } },
      },
      {
        name: 'TOKENWARDEN_REUSE_STORE_PASSWORD',
        valueFrom: { secretKeyRef: { name: 'valkey-auth', key: 'password', optional: false } },
      },
      {
        name: 'TOKENWARDEN_REUSE_STORE_CA',
        valueFrom: { secretKeyRef: { name: 'valkey-ca', key: 'ca.crt', optional: false } },
      },
    ]);
    expect(sharedStoreEnv({ reuse: { maxUses: 1 } })).toEqual([]);
    expect(sharedStoreEnv(undefined)).toEqual([]);
  });
});
