/**
 * Turns stream messages (and a snapshot file) into the enforced configuration. Nothing from the
 * stream is trusted more than a policy file: the policy and every revocation go through the same
 * validators and compiler (src/policy), keys through the same JWKS filter (src/keys/jwks.ts).
 *
 * Atomicity: everything that can fail or wait (validation, compilation, key import, building
 * the revocation set) happens first, on the side; then keys and config are swapped in one
 * synchronous step (KeyStore.install + EnforcementState.apply), so a request sees the old or the new
 * configuration, never a mix, and a refused message leaves the old one whole.
 */
import type { JWK } from 'jose';
import type { DeltaMessage, PolicyBundle } from '../../distribution/protocol.js';
import { KeyStore, type PreparedKeys } from '../../keys/store.js';
import { compilePolicy } from '../../policy/compile.js';
import {
  API_VERSION,
  type CompiledPolicy,
  type TokenPolicy,
  type TokenRevocation,
} from '../../policy/types.js';
import {
  formatFieldErrors,
  prefixFieldErrors,
  validatePolicy,
  validateRevocation,
} from '../../policy/validate.js';
import { RevocationSet } from '../../revocation/set.js';
import type { Enforcement, EnforcementState } from '../../decide/state.js';

type KeyMap = Record<string, { keys: JWK[] }>;

/** What the sidecar holds from the stream: the documents behind the active configuration. */
export interface HeldBundle {
  readonly version: string;
  readonly policy: TokenPolicy;
  readonly compiled: CompiledPolicy;
  readonly keys: Readonly<KeyMap>;
  /** By name (all in the policy's namespace); updated in place by a delta, once it is certain to apply. */
  readonly revocations: ReadonlyMap<string, TokenRevocation>;
}

export type ApplyResult =
  | { ok: true; active: Enforcement; held: HeldBundle; changed: { revocations: number } }
  | { ok: false; kind: 'invalid' | 'base_mismatch'; error: string };

export interface ApplierDeps {
  state: EnforcementState;
  keys: KeyStore;
  /** Epoch milliseconds. */
  now?: () => number;
}

/** The operator sends metadata + spec; the validators want whole objects. */
function withEnvelope<T extends object>(obj: T, kind: 'TokenPolicy' | 'TokenRevocation'): T {
  return { apiVersion: API_VERSION, kind, ...obj };
}

function checkPolicy(
  raw: unknown,
): { ok: true; policy: TokenPolicy; compiled: CompiledPolicy } | { ok: false; error: string } {
  const v = validatePolicy(withEnvelope(raw as object, 'TokenPolicy'), { standalone: false });
  if (!v.ok) return { ok: false, error: formatFieldErrors(prefixFieldErrors('policy', v.errors)) };
  try {
    return { ok: true, policy: v.value, compiled: compilePolicy(v.value) };
  } catch (err) {
    return { ok: false, error: `policy: ${(err as Error).message}` };
  }
}

function checkRevocations(
  list: readonly unknown[],
  field: string,
): { ok: true; value: TokenRevocation[] } | { ok: false; error: string } {
  const out: TokenRevocation[] = [];
  const errors: string[] = [];
  list.forEach((raw, i) => {
    const v = validateRevocation(withEnvelope(raw as object, 'TokenRevocation'));
    if (v.ok) out.push(v.value);
    else errors.push(formatFieldErrors(prefixFieldErrors(`${field}[${i}]`, v.errors)));
  });
  return errors.length > 0 ? { ok: false, error: errors.join('\n') } : { ok: true, value: out };
}

/**
 * The keys each issuer of the policy is served with: what the operator pushed for it, else the
 * policy's inline keys, else none (its tokens fail closed with unknown_key). Keys pushed for an
 * issuer the policy does not name are ignored.
 */
function effectiveKeys(policy: TokenPolicy, pushed: Readonly<KeyMap>): KeyMap {
  const out: KeyMap = {};
  for (const i of policy.spec.issuers) out[i.issuer] = pushed[i.issuer] ?? i.jwks ?? { keys: [] };
  return out;
}

export class StreamApplier {
  readonly #d: ApplierDeps;
  readonly #now: () => number;
  #held: HeldBundle | undefined;

  constructor(deps: ApplierDeps) {
    this.#d = deps;
    this.#now = deps.now ?? Date.now;
  }

  get held(): HeldBundle | undefined {
    return this.#held;
  }

  /** The held state as a snapshot's `config` (what the file on disk holds). */
  current(): { version: string; config: PolicyBundle } | undefined {
    const h = this.#held;
    if (h === undefined) return undefined;
    return {
      version: h.version,
      config: { policy: h.policy, keys: h.keys, revocations: [...h.revocations.values()] },
    };
  }

  /** A full state: a `snapshot` message or the file on disk. */
  async applySnapshot(version: string, config: PolicyBundle): Promise<ApplyResult> {
    const p = checkPolicy(config.policy);
    if (!p.ok) return { ok: false, kind: 'invalid', error: p.error };
    const r = checkRevocations(config.revocations, 'revocations');
    if (!r.ok) return { ok: false, kind: 'invalid', error: r.error };
    const prepared = await KeyStore.prepare(effectiveKeys(p.policy, config.keys));
    const revocations = new Map(r.value.map((x) => [x.metadata.name, x] as const));
    const set = RevocationSet.build(revocations.values(), p.compiled, this.#now() / 1000);
    return this.#commit(
      { version, policy: p.policy, compiled: p.compiled, keys: { ...config.keys }, revocations },
      prepared,
      set,
      revocations.size,
    );
  }

  async applyDelta(d: DeltaMessage): Promise<ApplyResult> {
    const held = this.#held;
    if (held === undefined || held.version !== d.base) {
      return {
        ok: false,
        kind: 'base_mismatch',
        error: `delta from ${d.base} but the sidecar holds ${held?.version ?? 'nothing'}`,
      };
    }
    let policy = held.policy;
    let compiled = held.compiled;
    if (d.policy !== undefined) {
      const p = checkPolicy(d.policy);
      if (!p.ok) return { ok: false, kind: 'invalid', error: p.error };
      ({ policy, compiled } = p);
    }
    const upserts = checkRevocations(d.revocationsUpserted ?? [], 'revocationsUpserted');
    if (!upserts.ok) return { ok: false, kind: 'invalid', error: upserts.error };
    // Keys in a delta replace the sets of the issuers it names; the others keep theirs.
    const keys = d.keys === undefined ? held.keys : { ...held.keys, ...d.keys };
    const prepared =
      d.keys !== undefined || d.policy !== undefined
        ? await KeyStore.prepare(effectiveKeys(policy, keys))
        : undefined;

    // Only now is this delta certain to apply (nothing below fails or waits): the documents
    // are updated in place rather than copied (100k of them per delta would cost more than the
    // set update itself); `held` is replaced in the same synchronous step.
    const removed = d.revocationsRemoved ?? [];
    const revocations = held.revocations as Map<string, TokenRevocation>;
    for (const name of removed) revocations.delete(name);
    for (const r of upserts.value) revocations.set(r.metadata.name, r);
    const nowSeconds = this.#now() / 1000;
    const sameTarget = compiled.name === held.compiled.name && compiled.namespace === held.compiled.namespace;
    // The enforced set, not one kept here: the periodic expiry sweep may have replaced it.
    const base = this.#d.state.active?.revocations;
    const set =
      sameTarget && base !== undefined
        ? base.update(removed, upserts.value, () => revocations.values(), compiled, nowSeconds)
        : RevocationSet.build(revocations.values(), compiled, nowSeconds);
    return this.#commit(
      { version: d.version, policy, compiled, keys, revocations },
      prepared,
      set,
      removed.length + upserts.value.length,
    );
  }

  /** The one synchronous swap: keys (when they changed) and config together. */
  #commit(
    held: HeldBundle,
    prepared: PreparedKeys | undefined,
    set: RevocationSet,
    changed: number,
  ): ApplyResult {
    if (prepared !== undefined) this.#d.keys.install(prepared);
    const revocations = held.revocations;
    const active = this.#d.state.apply(
      held.compiled,
      { [Symbol.iterator]: () => revocations.values() },
      this.#now(),
      set,
    );
    this.#held = held;
    return { ok: true, active, held, changed: { revocations: changed } };
  }
}
