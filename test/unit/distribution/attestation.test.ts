import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CheckedChains,
  chainIdOf,
  chainOf,
  checkProofShape,
  verifyAttestation,
  type Proof,
} from '../../../src/distribution/attestation.js';
import type { PolicyBundle } from '../../../src/distribution/protocol.js';
import { SNAPSHOT_FORMAT, decodeSnapshot, encodeSnapshot } from '../../../src/distribution/snapshot.js';
import { contentVersion } from '../../../src/distribution/version.js';
import { makeSigner, type TestSigner } from '../../support/attestation.js';

const CONFIG: PolicyBundle = {
  policy: {
    apiVersion: 'tokenwarden.dev/v1alpha1',
    kind: 'TokenPolicy',
    metadata: { name: 'orders-api', namespace: 'shop', generation: 3 },
    spec: { issuers: [{ issuer: 'https://auth.example.com/', audiences: ['orders'] }] },
  },
  keys: {},
  revocations: [
    {
      apiVersion: 'tokenwarden.dev/v1alpha1',
      kind: 'TokenRevocation',
      metadata: { name: 'leak', namespace: 'shop' },
      spec: { tokens: [{ jti: 'j-1' }] },
    },
  ],
};
const ATTESTED = { policy: 'shop/orders-api', version: contentVersion(CONFIG) };
const HOST = 'tokenwarden.tw-system.svc';

let signer: TestSigner;
let sibling: TestSigner;

beforeAll(async () => {
  signer = await makeSigner(HOST);
  // Another CA's serving key (its leaf is not a CA either).
  sibling = await makeSigner(HOST, 'unrelated-ca');
});

describe('verifyAttestation', () => {
  it('accepts the proof of the serving key, named for the host, chained to the pinned CA', () => {
    expect(verifyAttestation(signer.proof(CONFIG), ATTESTED, signer.trust)).toEqual({ ok: true });
    // The CA itself may close the chain.
    const withCa: Proof = {
      ...signer.proof(CONFIG),
      chain: [...chainOf(signer.certPem), ...chainOf(signer.caPem)],
    };
    expect(verifyAttestation(withCa, ATTESTED, signer.trust)).toEqual({ ok: true });
  });

  const cases: {
    name: string;
    proof: () => Proof;
    attested?: typeof ATTESTED;
    host?: string;
    error: RegExp;
  }[] = [
    {
      name: 'another policy',
      proof: () => signer.proof(CONFIG),
      attested: { ...ATTESTED, policy: 'shop/other' },
      error: /signature/,
    },
    {
      name: 'another version',
      proof: () => signer.proof(CONFIG),
      attested: { ...ATTESTED, version: 'v' },
      error: /signature/,
    },
    {
      name: 'a leaf for another host',
      proof: () => signer.proof(CONFIG),
      host: 'tokenwarden.evil.svc',
      error: /not a certificate for/,
    },
    { name: 'a chain from another CA', proof: () => sibling.proof(CONFIG), error: /pinned control-plane CA/ },
    {
      name: 'signed at a time the certificate was not valid',
      proof: () => signer.proof(CONFIG, undefined, new Date(Date.now() + 30 * 86_400_000)),
      error: /not valid at signedAt/,
    },
    {
      name: 'a leaf posing as an intermediate',
      proof: () => ({
        ...sibling.proof(CONFIG),
        chain: [...chainOf(sibling.certPem), ...chainOf(signer.certPem)],
      }),
      error: /not issued by the next certificate/,
    },
    { name: 'no certificate', proof: () => ({ ...signer.proof(CONFIG), chain: [] }), error: /1 to 4/ },
    {
      name: 'five certificates',
      proof: () => ({ ...signer.proof(CONFIG), chain: Array(5).fill(chainOf(signer.certPem)[0]) }),
      error: /1 to 4/,
    },
    {
      name: 'garbage for a certificate',
      proof: () => ({ ...signer.proof(CONFIG), chain: ['AAAA'] }),
      error: /not a certificate/,
    },
    {
      name: 'a non-canonical certificate encoding',
      proof: () => ({ ...signer.proof(CONFIG), chain: [`${chainOf(signer.certPem)[0]}!`] }),
      error: /not a certificate/,
    },
    {
      name: 'signedAt not a time',
      proof: () => ({ ...signer.proof(CONFIG), signedAt: 'yesterday' }),
      error: /signedAt/,
    },
  ];
  it.each(cases)('refuses $name', (c) => {
    const checked = verifyAttestation(c.proof(), c.attested ?? ATTESTED, {
      ...signer.trust,
      host: c.host ?? HOST,
    });
    expect(checked.ok).toBe(false);
    if (!checked.ok) expect(checked.error).toMatch(c.error);
  });

  it.each(cases)('refuses $name with the good chain already checked (CheckedChains)', (c) => {
    const trust = { ...signer.trust, host: HOST };
    const memo = new CheckedChains(trust);
    expect(verifyAttestation(signer.proof(CONFIG), ATTESTED, trust, memo)).toEqual({ ok: true });
    // The same memo, offered with the trust of the case (another object when the host differs).
    const caseTrust = c.host === undefined ? trust : { ...trust, host: c.host };
    const checked = verifyAttestation(c.proof(), c.attested ?? ATTESTED, caseTrust, memo);
    expect(checked.ok).toBe(false);
    if (!checked.ok) expect(checked.error).toMatch(c.error);
  });

  it('names two different chains differently, whatever their entries hold', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string(), { maxLength: 4 }),
        fc.array(fc.string(), { maxLength: 4 }),
        (a, b) => {
          fc.pre(JSON.stringify(a) !== JSON.stringify(b));
          expect(chainIdOf(a)).not.toBe(chainIdOf(b));
        },
      ),
    );
    // A joined spelling would make these one chain.
    expect(chainIdOf(['a\nb'])).not.toBe(chainIdOf(['a', 'b']));
  });

  it('never takes a chain that merely looks like a checked one (an entry holding two)', () => {
    const trust = { ...signer.trust, host: HOST };
    const memo = new CheckedChains(trust);
    const good = signer.proof(CONFIG);
    const withCa: Proof = { ...good, chain: [...chainOf(signer.certPem), ...chainOf(signer.caPem)] };
    expect(verifyAttestation(withCa, ATTESTED, trust, memo)).toEqual({ ok: true });
    const fused: Proof = { ...withCa, chain: [withCa.chain.join('\n')] };
    expect(verifyAttestation(fused, ATTESTED, trust, memo)).toMatchObject({ ok: false });
  });

  it('checks a chain once per CheckedChains: later proofs of it only for time and signature', () => {
    const trust = { ...signer.trust, host: HOST };
    const memo = new CheckedChains(trust);
    const first = signer.proof(CONFIG);
    expect(verifyAttestation(first, ATTESTED, trust, memo)).toEqual({ ok: true });
    // A chain that no longer parses but has the same name would only pass if it was never re-read:
    // the name is the hash of the chain, so a different chain is a different entry.
    const other = { ...first, chain: ['AAAA'] };
    expect(verifyAttestation(other, ATTESTED, trust, memo).ok).toBe(false);
    const later = signer.proof(CONFIG, ATTESTED.version, new Date(Date.now() + 1000));
    expect(verifyAttestation(later, ATTESTED, trust, memo)).toEqual({ ok: true });
    expect(verifyAttestation({ ...later, signature: first.signature }, ATTESTED, trust, memo).ok).toBe(false);
  });
});

describe('a signed snapshot file (property)', () => {
  it('refuses a chain certificate with bytes after it (the parser would ignore them)', () => {
    const proof = signer.proof(CONFIG);
    const der = Buffer.from(proof.chain[0] as string, 'base64');
    const padded = {
      ...proof,
      chain: [Buffer.concat([der, Buffer.from([5])]).toString('base64'), ...proof.chain.slice(1)],
    };
    const v = verifyAttestation(padded, ATTESTED, signer.trust);
    expect(v.ok).toBe(false);
  });

  it('is refused after any one-character change outside savedAt', () => {
    const text = encodeSnapshot(
      ATTESTED.version,
      signer.proof(CONFIG),
      CONFIG,
      new Date('2026-12-06T00:00:00.000Z'),
    );
    const expect_ = { trust: signer.trust, namespace: 'shop' };
    expect(decodeSnapshot(text, expect_).ok).toBe(true);
    const body = text.length - 1;
    const savedAt = text.indexOf('"savedAt"');
    const savedEnd = text.indexOf(',', savedAt);
    expect(text.startsWith(`{"format":"${SNAPSHOT_FORMAT}"`)).toBe(true);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: body - 1 }).filter((i) => i < savedAt || i >= savedEnd),
        fc.integer({ min: 0x20, max: 0x7e }),
        (i, code) => {
          const c = String.fromCharCode(code);
          fc.pre(text[i] !== c);
          const mutated = `${text.slice(0, i)}${c}${text.slice(i + 1)}`;
          expect(decodeSnapshot(mutated, expect_).ok).toBe(false);
        },
      ),
      { numRuns: 400 },
    );
  });
});

describe('checkProofShape', () => {
  const base = { signedAt: '2026-01-01T00:00:00.000Z', signature: 'c2ln' };
  const id = 'A'.repeat(43);
  it('admits a compact proof on the stream only, with exactly one of chain and chainId', () => {
    expect(checkProofShape({ ...base, chainId: id }, 'proof', true)).toBeUndefined();
    expect(checkProofShape({ ...base, chain: ['x'] }, 'proof', true)).toBeUndefined();
    // A file (snapshot.ts) never takes a named chain: it must be checkable alone.
    expect(checkProofShape({ ...base, chainId: id }, 'proof')).toMatch(/^proof\.chain:/);
    expect(checkProofShape({ ...base, chain: ['x'], chainId: id }, 'proof', true)).toMatch(/exclusive/);
    expect(checkProofShape({ ...base, chainId: 'short' }, 'proof', true)).toMatch(/^proof\.chainId:/);
    expect(checkProofShape({ ...base }, 'proof', true)).toMatch(/^proof\.chainId:/);
  });
});
