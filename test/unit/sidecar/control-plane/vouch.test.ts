import { pino } from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { chainIdOf } from '../../../../src/distribution/attestation.js';
import type { PolicyBundle } from '../../../../src/distribution/protocol.js';
import type { HeldBundle } from '../../../../src/sidecar/control-plane/apply.js';
import { Vouched } from '../../../../src/sidecar/control-plane/vouch.js';
import { makeSigner, type TestSigner } from '../../../support/attestation.js';

let tls: TestSigner;
let renewed: TestSigner;
beforeAll(async () => {
  tls = await makeSigner();
  renewed = await makeSigner();
});

describe('compact proofs on the sidecar side (Vouched)', () => {
  const config: PolicyBundle = {
    policy: {
      apiVersion: 'tokenwarden.dev/v1alpha1',
      kind: 'TokenPolicy',
      metadata: { name: 'orders', namespace: 'shop' },
      spec: { issuers: [{ issuer: 'https://auth.example.com/', audiences: ['orders'] }] },
    },
    keys: {},
    revocations: [],
  };

  function vouched() {
    const warnings: string[] = [];
    const log = pino({ level: 'warn' }, { write: (l: string) => warnings.push(l) });
    const v = new Vouched({
      caPem: tls.caPem,
      url: new URL('https://127.0.0.1:9443'),
      namespace: 'shop',
      log,
    });
    return { v, warnings };
  }

  const held = (version: string) => ({ policy: config.policy, version }) as unknown as HeldBundle;

  it('keeps a compact proof once the chain it names was received, with the chain put back', () => {
    const { v } = vouched();
    const proof = tls.proof(config, 'v1');
    v.accept(held('v1'), proof);
    const next = tls.proof(config, 'v2');
    v.accept(held('v2'), {
      signedAt: next.signedAt,
      signature: next.signature,
      chainId: chainIdOf(next.chain),
    });
    expect(v.proofFor('v2')).toEqual(next);
  });

  it('never keeps a compact proof naming a chain it was not sent, and says why', () => {
    const { v, warnings } = vouched();
    const p = tls.proof(config, 'v1');
    v.accept(held('v1'), { signedAt: p.signedAt, signature: p.signature, chainId: chainIdOf(p.chain) });
    expect(v.proofFor('v1')).toBeUndefined();
    expect(warnings.join('')).toContain('names a certificate chain this sidecar was not sent');
    // Another chain held: a compact proof naming this one still does not resolve.
    v.accept(held('v2'), renewed.proof(config, 'v2'));
    v.accept(held('v3'), { signedAt: p.signedAt, signature: p.signature, chainId: chainIdOf(p.chain) });
    expect(v.proofFor('v3')).toBeUndefined();
  });

  it('a compact proof whose signature is not over the held version is refused like a full one', () => {
    const { v } = vouched();
    v.accept(held('v1'), tls.proof(config, 'v1'));
    const other = tls.proof(config, 'v-other');
    v.accept(held('v2'), {
      signedAt: other.signedAt,
      signature: other.signature,
      chainId: chainIdOf(other.chain),
    });
    expect(v.proofFor('v2')).toBeUndefined();
  });
});
