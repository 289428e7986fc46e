/**
 * The reuse step through the ReuseStore interface (src/decide/reuse-step.ts): each outcome a
 * store can give, what the request gets for it, and the policy's per-pod fallback. The stores
 * are the in-memory one and two small implementations of the interface: one whose server is
 * down (every use unavailable) and one that answers through a promise, as a store across the
 * network does.
 */
import { describe, expect, it } from 'vitest';
import type { Decision } from '../../../src/decide/decision.js';
import type { UnavailableAction } from '../../../src/decide/reuse-step.js';
import { compilePolicy } from '../../../src/policy/compile.js';
import type { CompiledPolicy, ReuseOnUnavailable } from '../../../src/policy/types.js';
import { challengeFor } from '../../../src/proxy/challenge.js';
import { MemoryReuseStore } from '../../../src/revocation/reuse.js';
import type {
  ReuseKey,
  ReuseOutcome,
  ReuseStore,
  ReuseStoreStats,
} from '../../../src/revocation/reuse-store.js';
import {
  asForward,
  asReject,
  decide,
  facts,
  NOW,
  policyOf,
  rig,
  rsa,
  token,
  useEngineRig,
  type Rig,
} from './engine-rig.js';

useEngineRig();

/** A shared store whose server cannot be reached: every use is `unavailable`. */
class DownStore implements ReuseStore {
  asked = 0;
  use(): ReuseOutcome {
    this.asked++;
    return { kind: 'unavailable', detail: 'connect ECONNREFUSED 127.0.0.1:6379' };
  }
  sweep(): void {}
  stats(): ReuseStoreStats {
    return {
      kind: 'shared',
      entries: 0,
      bytes: 0,
      capacityBytes: 0,
      refusedFull: 0,
      unavailable: this.asked,
    };
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** A store answering through a promise (a network round trip), counting in memory behind it. */
class RemoteStore implements ReuseStore {
  readonly #inner = new MemoryReuseStore();
  keys: ReuseKey[] = [];
  use(key: ReuseKey, exp: number, now: number): Promise<ReuseOutcome> {
    this.keys.push(key);
    return new Promise((resolve) => setImmediate(() => resolve(this.#inner.use(key, exp, now))));
  }
  sweep(now: number): void {
    this.#inner.sweep(now);
  }
  stats(): ReuseStoreStats {
    return { ...this.#inner.stats(), kind: 'shared' };
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Applies a reuse-limited policy with `onUnavailable` (the hook a policy field compiles to). */
function withFallback(r: Rig, maxUses: number, onUnavailable: ReuseOnUnavailable | undefined): void {
  const compiled = compilePolicy(policyOf({ reuse: { maxUses } }));
  const policy: CompiledPolicy =
    onUnavailable === undefined ? compiled : { ...compiled, reuse: { onUnavailable } };
  r.state.apply(policy, [], r.clock.ms);
}

describe('the reuse step through the ReuseStore interface', () => {
  it('the in-memory store decides synchronously, a first use and a reuse alike', async () => {
    const r = await rig(policyOf({ reuse: { maxUses: 1 } }));
    const t = token(rsa, { jti: 'j-sync' });
    const first = r.engine.decide(facts('/orders/1', t));
    const second = r.engine.decide(facts('/orders/1', t));
    expect(first).not.toBeInstanceOf(Promise);
    expect(second).not.toBeInstanceOf(Promise);
    expect((first as Decision).kind).toBe('forward');
    expect(asReject(second as Decision).reason).toBe('reused');
  });

  it('a full store refuses a new jti as reuse_store_full (not reused), 401, and says so', async () => {
    let full = 0;
    const r = await rig(policyOf({ reuse: { maxUses: 1 } }), [], undefined, {
      reuse: new MemoryReuseStore({ maxEntries: 1 }),
      onReuseStoreFull: () => full++,
    });
    expect((await decide(r, facts('/orders/1', token(rsa, { jti: 'j-1' })))).kind).toBe('forward');
    const d = asReject(await decide(r, facts('/orders/1', token(rsa, { jti: 'j-2' }))));
    expect(d).toMatchObject({ reason: 'reuse_store_full', stage: 'token' });
    expect(d.description).toMatch(/full/);
    expect(challengeFor(d).status).toBe(401);
    expect(full).toBe(1);
    // A known jti keeps being counted while the store is full.
    expect(asReject(await decide(r, facts('/orders/1', token(rsa, { jti: 'j-1' })))).reason).toBe('reused');
  });

  it('a store that cannot be asked refuses with reuse_store_unavailable and 503 (fail closed)', async () => {
    const seen: [string, UnavailableAction][] = [];
    const store = new DownStore();
    const r = await rig(undefined, [], undefined, {
      reuse: store,
      reuseFallback: new MemoryReuseStore(),
      onReuseStoreUnavailable: (detail, action) => seen.push([detail, action]),
    });
    withFallback(r, 1, undefined);
    await r.keys.sync(r.state.active!.policy.issuers.values());
    const d = asReject(await decide(r, facts('/orders/1', token(rsa, { jti: 'j-1' }))));
    expect(d).toMatchObject({ reason: 'reuse_store_unavailable', stage: 'token' });
    expect(d.description).toContain('ECONNREFUSED');
    const answer = challengeFor(d);
    expect(answer.status).toBe(503);
    expect(JSON.parse(answer.body)).toMatchObject({ error: 'temporarily_unavailable' });
    expect(seen).toEqual([['connect ECONNREFUSED 127.0.0.1:6379', 'refused']]);
  });

  it('a policy without a reuse limit never asks the store', async () => {
    const store = new DownStore();
    const r = await rig(policyOf(), [], undefined, { reuse: store });
    expect((await decide(r, facts('/orders/1', token(rsa)))).kind).toBe('forward');
    expect(store.asked).toBe(0);
  });

  it('onUnavailable count_per_pod: counted in the per-pod fallback meanwhile, limit still enforced', async () => {
    const seen: UnavailableAction[] = [];
    const fallback = new MemoryReuseStore();
    const r = await rig(undefined, [], undefined, {
      reuse: new DownStore(),
      reuseFallback: fallback,
      onReuseStoreUnavailable: (_detail, action) => seen.push(action),
    });
    withFallback(r, 1, 'count_per_pod');
    await r.keys.sync(r.state.active!.policy.issuers.values());
    const t = token(rsa, { jti: 'j-pod' });
    expect(asForward(await decide(r, facts('/orders/1', t))).decision).toBe('allow');
    expect(asReject(await decide(r, facts('/orders/1', t)))).toMatchObject({
      reason: 'reused',
      description: 'use 2 of at most 1',
    });
    expect(fallback.stats().entries).toBe(1);
    expect(seen).toEqual(['counted_per_pod', 'counted_per_pod']);
  });

  it('count_per_pod without a fallback store still refuses (never fails open)', async () => {
    const r = await rig(undefined, [], undefined, { reuse: new DownStore() });
    withFallback(r, 1, 'count_per_pod');
    await r.keys.sync(r.state.active!.policy.issuers.values());
    const d = asReject(await decide(r, facts('/orders/1', token(rsa, { jti: 'j-1' }))));
    expect(d.reason).toBe('reuse_store_unavailable');
  });

  it('a full fallback store refuses as reuse_store_full', async () => {
    const r = await rig(undefined, [], undefined, {
      reuse: new DownStore(),
      reuseFallback: new MemoryReuseStore({ maxEntries: 1 }),
    });
    withFallback(r, 1, 'count_per_pod');
    await r.keys.sync(r.state.active!.policy.issuers.values());
    expect((await decide(r, facts('/orders/1', token(rsa, { jti: 'j-1' })))).kind).toBe('forward');
    expect(asReject(await decide(r, facts('/orders/1', token(rsa, { jti: 'j-2' })))).reason).toBe(
      'reuse_store_full',
    );
  });

  it('a store answering with a promise is awaited: the decision is a promise, counts hold', async () => {
    const store = new RemoteStore();
    const r = await rig(policyOf({ reuse: { maxUses: 2 } }), [], undefined, { reuse: store });
    const t = token(rsa, { jti: 'j-remote' });
    const pending = r.engine.decide(facts('/orders/1', t));
    expect(pending).toBeInstanceOf(Promise);
    expect((await pending).kind).toBe('forward');
    expect((await decide(r, facts('/orders/1', t))).kind).toBe('forward');
    expect(asReject(await decide(r, facts('/orders/1', t)))).toMatchObject({
      reason: 'reused',
      description: 'use 3 of at most 2',
    });
    // The key names the policy, the issuer and the jti; never the token.
    expect(store.keys[0]).toEqual({
      policy: 'orders-api',
      issuer: 'https://auth.example.com/',
      jti: 'j-remote',
    });
    // The rule's requirements still run after the awaited count.
    const scoped = asReject(await decide(r, facts('/scoped/x', token(rsa, { jti: 'j-scoped' }))));
    expect(scoped.reason).toBe('insufficient_scope');
  });

  it('a store whose promise rejects (against its contract) still refuses with reuse_store_unavailable', async () => {
    const broken: ReuseStore = {
      use: () => Promise.reject(new Error('boom')),
      sweep: () => undefined,
      stats: () => new DownStore().stats(),
      close: () => Promise.resolve(),
    };
    const r = await rig(policyOf({ reuse: { maxUses: 1 } }), [], undefined, { reuse: broken });
    const d = asReject(await decide(r, facts('/orders/1', token(rsa, { jti: 'j-1' }))));
    expect(d).toMatchObject({ reason: 'reuse_store_unavailable' });
  });

  it('Audit mode forwards an unavailable store’s refusal as audit_deny with its reason', async () => {
    const r = await rig(undefined, [], undefined, { reuse: new DownStore() });
    r.state.apply(compilePolicy(policyOf({ mode: 'Audit', reuse: { maxUses: 1 } })), [], NOW * 1000);
    await r.keys.sync(r.state.active!.policy.issuers.values());
    const d = asForward(await decide(r, facts('/orders/1', token(rsa, { jti: 'j-1' }))));
    expect(d).toMatchObject({ decision: 'audit_deny', reason: 'reuse_store_unavailable' });
  });
});
