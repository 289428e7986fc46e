import { beforeAll, describe, expect, it } from 'vitest';
import type { PolicyBundle } from '../../../src/distribution/protocol.js';
import {
  SNAPSHOT_FORMAT,
  decodeSnapshot,
  encodeSnapshot,
  type Expect,
} from '../../../src/distribution/snapshot.js';
import { contentVersion } from '../../../src/distribution/version.js';
import { makeSigner, type TestSigner } from '../../support/attestation.js';

const CONFIG: PolicyBundle = {
  policy: {
    apiVersion: 'tokenwarden.dev/v1alpha1',
    kind: 'TokenPolicy',
    metadata: { name: 'orders-api', namespace: 'shop', generation: 3 },
    spec: { issuers: [{ issuer: 'https://auth.example.com/', audiences: ['orders'] }] },
  },
  keys: { 'https://auth.example.com/': { keys: [{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y', kid: 'k1' }] } },
  revocations: [
    {
      apiVersion: 'tokenwarden.dev/v1alpha1',
      kind: 'TokenRevocation',
      metadata: { name: 'leak-ünïcode', namespace: 'shop' },
      spec: { tokens: [{ jti: 'j-1' }, { subject: 'user "quoted" ,"config":' }] },
    },
  ],
};
const ALLOW_ALL: PolicyBundle = {
  ...CONFIG,
  policy: {
    ...CONFIG.policy,
    spec: { ...CONFIG.policy.spec, rules: [{ name: 'all', paths: ['/*'], action: 'Allow' }] },
  },
  revocations: [],
};
const AT = new Date('2026-12-02T10:00:00.000Z');
const VERSION = contentVersion(CONFIG);

let signer: TestSigner;
let other: TestSigner;
let expectOk: Expect;
let text: string;

beforeAll(async () => {
  [signer, other] = await Promise.all([makeSigner(), makeSigner('127.0.0.1', 'another-ca')]);
  expectOk = { trust: signer.trust, namespace: 'shop' };
  text = encodeSnapshot(VERSION, signer.proof(CONFIG), CONFIG, AT);
});

describe('snapshot file', () => {
  it('round-trips: what is written and signed decodes to the same config and version', () => {
    const d = decodeSnapshot(text, expectOk);
    expect(d).toEqual({
      ok: true,
      value: {
        format: SNAPSHOT_FORMAT,
        version: VERSION,
        savedAt: AT.toISOString(),
        proof: expect.any(Object),
        config: CONFIG,
      },
    });
  });

  it('is refused when truncated anywhere', () => {
    const accepted: number[] = [];
    for (let cut = 0; cut < text.length - 2; cut += 11)
      if (decodeSnapshot(text.slice(0, cut), expectOk).ok) accepted.push(cut);
    expect(accepted).toEqual([]);
  });

  const cases: { name: string; make: () => string; expect?: () => Expect; error: RegExp }[] = [
    { name: 'empty', make: () => '', error: /empty/ },
    { name: 'a JSON array', make: () => '[]\n', error: /not a JSON object/ },
    {
      name: 'the unsigned format of earlier releases',
      make: () => text.replace(SNAPSHOT_FORMAT, 'tokenwarden.dev/snapshot/v1'),
      error: /carries no operator signature/,
    },
    { name: 'a revocation edited', make: () => text.replace('"j-1"', '"j-2"'), error: /does not hash to it/ },
    {
      name: 'swapped for an Allow-everything policy, version and proof kept',
      make: () => encodeSnapshot(VERSION, signer.proof(CONFIG), ALLOW_ALL, AT),
      error: /does not hash to it/,
    },
    {
      name: 're-versioned: the swapped content with its own hash, the old proof',
      make: () => encodeSnapshot(contentVersion(ALLOW_ALL), signer.proof(CONFIG), ALLOW_ALL, AT),
      error: /signature: does not verify/,
    },
    {
      name: 'signed by a key the pinned CA did not certify',
      make: () => encodeSnapshot(contentVersion(ALLOW_ALL), other.proof(ALLOW_ALL), ALLOW_ALL, AT),
      error: /not issued by the pinned control-plane CA/,
    },
    {
      name: 'the signature of another version',
      make: () => encodeSnapshot(VERSION, signer.proof(CONFIG, 'another-version'), CONFIG, AT),
      error: /signature: does not verify/,
    },
    {
      name: 'no proof',
      make: () => text.replace(/"proof":\{[^}]*\},/, ''),
      error: /proof: must be an object/,
    },
    {
      name: "a policy of another namespace than the pod's",
      make: () => text,
      expect: () => ({ trust: signer.trust, namespace: 'elsewhere' }),
      error: /not the pod's/,
    },
    {
      name: 'a leaf named for another host',
      make: () => text,
      expect: () => ({ trust: { ...signer.trust, host: 'tokenwarden.evil.svc' }, namespace: 'shop' }),
      error: /not a certificate for tokenwarden.evil.svc/,
    },
    {
      name: 'no pinned CA to check with',
      make: () => text,
      expect: () => ({ trust: undefined, namespace: 'shop' }),
      error: /no pinned control-plane CA/,
    },
  ];
  it.each(cases)('is refused: $name', (c) => {
    const d = decodeSnapshot(c.make(), c.expect?.() ?? expectOk);
    expect(d.ok).toBe(false);
    if (!d.ok) expect(d.error).toMatch(c.error);
  });
});
