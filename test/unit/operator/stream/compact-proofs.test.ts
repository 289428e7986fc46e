import { beforeAll, describe, expect, it } from 'vitest';
import {
  chainIdOf,
  chainOf,
  verifyAttestation,
  withChain,
  type Proof,
  type WireProof,
} from '../../../../src/distribution/attestation.js';
import { parseServerMessage } from '../../../../src/distribution/protocol.js';
import type { Session } from '../../../../src/operator/stream/sessions.js';
import { makeSigner, type TestSigner } from '../../../support/attestation.js';
import { signedHub } from './fixtures.js';

const POD = { namespace: 'shop', name: 'a', uid: 'u-a' };
const B = { namespace: 'shop', name: 'b', uid: 'u-b' };

let tls: TestSigner;
let renewed: TestSigner;
beforeAll(async () => {
  tls = await makeSigner();
  renewed = await makeSigner();
});

const proofOf = (line: Record<string, unknown>): WireProof => line.proof as WireProof;
const mine = (lines: Record<string, unknown>[], s: Session) => lines.filter((l) => l.session === s.id);

describe('compact proofs on the operator side', () => {
  it('a session that asked is sent the chain once, then proofs naming it that check once it is put back', async () => {
    const { hub, lines, io, revoke } = await signedHub(tls);
    const s = hub.connect(POD, 'shop/orders', io, undefined, { compactProofs: true }) as Session;
    await revoke('r1');
    await revoke('r2');
    const [snapshot, ...deltas] = mine(lines, s);
    const chain = (proofOf(snapshot!) as Proof).chain;
    expect(chain).toEqual(chainOf(tls.certPem));
    expect(deltas).toHaveLength(2);
    for (const d of deltas) {
      const proof = proofOf(d);
      expect(proof).not.toHaveProperty('chain');
      expect(proof).toMatchObject({ chainId: chainIdOf(chain) });
      const full = withChain(proof, chain)!;
      expect(
        verifyAttestation(full, { policy: 'shop/orders', version: d.version as string }, tls.trust),
      ).toEqual({ ok: true });
    }
    // What the wire parser admits: the line as written.
    expect(parseServerMessage(JSON.stringify(deltas[0]))).toMatchObject({ ok: true });
    hub.close();
  });

  it('a session that did not ask gets every proof in full; the two spellings are each encoded once', async () => {
    const { hub, lines, bodies, io, revoke } = await signedHub(tls);
    const compact = [POD, B].map(
      (p) => hub.connect(p, 'shop/orders', io, undefined, { compactProofs: true }) as Session,
    );
    const full = hub.connect({ ...POD, name: 'c', uid: 'u-c' }, 'shop/orders', io, undefined) as Session;
    const before = bodies.length;
    await revoke('r1');
    const [a, b, c] = bodies.slice(before);
    expect(a).toBe(b);
    expect(c).not.toBe(a);
    expect(proofOf(mine(lines, full)[1]!)).toHaveProperty('chain');
    expect(proofOf(mine(lines, compact[0]!)[1]!)).toHaveProperty('chainId');
    // The full spelling is longer by the chain, less the 43-character name.
    expect(c!.length - a!.length).toBeGreaterThan(chainOf(tls.certPem)[0]!.length - 64);
    hub.close();
  });

  it('a new serving certificate goes out in full once, then is named', async () => {
    const { hub, lines, io, revoke, signer } = await signedHub(tls);
    const s = hub.connect(POD, 'shop/orders', io, undefined, { compactProofs: true }) as Session;
    await revoke('r1');
    signer.use(renewed);
    await revoke('r2');
    await revoke('r3');
    const [, before, renewal, after] = mine(lines, s);
    expect(proofOf(before!)).toMatchObject({ chainId: chainIdOf(chainOf(tls.certPem)) });
    expect((proofOf(renewal!) as Proof).chain).toEqual(chainOf(renewed.certPem));
    expect(proofOf(after!)).toMatchObject({ chainId: chainIdOf(chainOf(renewed.certPem)) });
    hub.close();
  });
});
