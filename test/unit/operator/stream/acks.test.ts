import { beforeAll, describe, expect, it } from 'vitest';
import { verifyAttestation, type Proof } from '../../../../src/distribution/attestation.js';
import { contentVersion } from '../../../../src/distribution/version.js';
import type { PolicyBundle } from '../../../../src/distribution/protocol.js';
import { AckGuard } from '../../../../src/operator/stream/ack-auth.js';
import type { Authenticated } from '../../../../src/operator/stream/auth.js';
import type { Session } from '../../../../src/operator/stream/sessions.js';
import { makeSigner, type TestSigner } from '../../../support/attestation.js';
import { signedHub } from './fixtures.js';

const POD = { namespace: 'shop', name: 'a', uid: 'u-a' };

let tls: TestSigner;
beforeAll(async () => {
  tls = await makeSigner();
});

const setup = () => signedHub(tls);

describe('acks count only for an exact (generation, version) the session was sent', () => {
  it('refuses a wrong hash, the old version at the new generation and a generation never sent; none counts', async () => {
    const { hub, lines, io, revoke } = await setup();
    const s = hub.connect(POD, 'shop/orders', io, undefined) as Session;
    const v1 = lines[0]!.version as string;
    expect(hub.ack({ session: s.id, generation: 1, version: v1 })).toBe('ok');
    await revoke('leak');
    const v2 = lines[1]!.version as string;
    const forged = [
      { session: s.id, generation: 2, version: v1 },
      { session: s.id, generation: 2, version: `${v2.slice(0, -1)}${v2.endsWith('A') ? 'B' : 'A'}` },
      { session: s.id, generation: 3, version: v2 },
      { session: s.id, generation: 1, version: v2 },
    ];
    for (const f of forged) expect(hub.ack(f)).toBe('unsent_version');
    expect(hub.revocationSummary().get('shop/leak')).toMatchObject({ pending: 1, sidecars: 0 });
    expect(hub.policySummary().get('shop/orders')).toMatchObject({ connected: 1, synced: 0 });
    expect(hub.ack({ session: 'nope', generation: 2, version: v2 })).toBe('session_gone');
    expect(hub.ack({ session: s.id, generation: 2, version: v2 })).toBe('ok');
    expect(hub.revocationSummary().get('shop/leak')).toMatchObject({ pending: 0, sidecars: 1 });
    expect(hub.policySummary().get('shop/orders')).toMatchObject({ synced: 1 });
    hub.close();
  });

  it('counts an ack of any generation the session was sent, however far behind; never one from before it connected', async () => {
    const { hub, lines, io, revoke } = await setup();
    const before = hub.connect({ ...POD, name: 'b', uid: 'u-b' }, 'shop/orders', io, undefined) as Session;
    await revoke('r0'); // generation 2, sent to `before` only
    const first = lines.length;
    const s = hub.connect(POD, 'shop/orders', io, undefined) as Session;
    const start = lines[first]!.generation as number;
    // A sidecar that lags 40 messages behind (more than it could ever hold unread for long).
    for (let i = 1; i <= 40; i++) await revoke(`r${i}`);
    const mine = lines.filter((l) => l.session === s.id);
    expect(mine).toHaveLength(41);
    const old = mine[1]!;
    expect(
      hub.ack({ session: s.id, generation: old.generation as number, version: old.version as string }),
    ).toBe('ok');
    // The generation before this session's first message was sent to another session, not this one.
    const prior = lines.find((l) => l.session === before.id && l.generation === start - 1)!;
    expect(hub.ack({ session: s.id, generation: start - 1, version: prior.version as string })).toBe(
      'unsent_version',
    );
    hub.close();
  });
});

describe('reconnecting with a version', () => {
  it('the operator does not recognise gets a full snapshot, never an empty delta', async () => {
    const { hub, lines, io } = await setup();
    hub.connect(POD, 'shop/orders', io, 'a-version-never-served');
    expect(lines[0]).toMatchObject({ type: 'snapshot' });
    expect(lines[0]!.version).toBe(contentVersion(lines[0]!.config as PolicyBundle));
    hub.close();
  });
});

describe('proofs', () => {
  it('every snapshot and delta carries the signature over its policy and content version', async () => {
    const { hub, lines, io, revoke } = await setup();
    hub.connect(POD, 'shop/orders', io, undefined);
    await revoke('leak-2');
    expect(lines.map((l) => l.type)).toEqual(['snapshot', 'delta']);
    for (const l of lines) {
      const checked = verifyAttestation(
        l.proof as Proof,
        { policy: 'shop/orders', version: l.version as string },
        tls.trust,
      );
      expect(checked).toEqual({ ok: true });
      expect(
        verifyAttestation(l.proof as Proof, { policy: 'shop/other', version: l.version as string }, tls.trust)
          .ok,
      ).toBe(false);
    }
    hub.close();
  });
});

describe('AckGuard', () => {
  const session = { pod: POD } as Session;
  const jwt = (exp: number, sub = 'x'): string =>
    `e30.${Buffer.from(JSON.stringify({ exp, sub })).toString('base64url')}.sig`;

  it('accepts the token the stream was opened with without another review, until its exp', async () => {
    let now = 1_000_000;
    const reviews: string[] = [];
    const review = (t: string): Promise<Authenticated> => {
      reviews.push(t);
      return Promise.resolve({ ok: true, pod: POD, serviceAccount: 'sa' });
    };
    const guard = new AckGuard(review, () => now);
    const token = jwt(now / 1000 + 60);
    guard.bind(session, token);
    expect(await guard.check(session, token)).toEqual({ ok: true });
    expect(reviews).toEqual([]);
    now += 61_000;
    expect(await guard.check(session, token)).toEqual({ ok: true });
    expect(reviews).toEqual([token]);
  });

  it.each([
    {
      name: "another pod's valid token",
      answer: { ok: true, pod: { ...POD, name: 'b', uid: 'u-b' }, serviceAccount: 'sa' },
      want: { ok: false, status: 403, reason: 'wrong_pod' },
    },
    {
      name: 'a token of a pod with the same name but another uid (recreated)',
      answer: { ok: true, pod: { ...POD, uid: 'u-a-2' }, serviceAccount: 'sa' },
      want: { ok: false, status: 403, reason: 'wrong_pod' },
    },
    {
      name: 'a token the TokenReview refuses',
      answer: { ok: false, status: 401, reason: 'token_invalid', message: 'no' },
      want: { ok: false, status: 401, reason: 'token_invalid' },
    },
  ] as const)('refuses $name', async ({ answer, want }) => {
    const guard = new AckGuard(() => Promise.resolve(answer as Authenticated));
    guard.bind(session, jwt(Date.now() / 1000 + 600, 'mine'));
    expect(await guard.check(session, jwt(Date.now() / 1000 + 600, 'other'))).toMatchObject(want);
  });
});
