/**
 * What the operator vouches for (ADR 0012): the content hash of the config the sidecar holds,
 * recomputed from the documents it applied (never copied from a message or a file), and the
 * operator's signature over that hash, kept so the snapshot file can be checked after a
 * restart. The trust anchor is the CA the sidecar already pins for the stream's TLS and the
 * control-plane host name, both from the pod spec; nothing in the state directory is trusted.
 */
import type { Logger } from '../../log/logger.js';
import {
  CheckedChains,
  certificatesOf,
  verifyAttestation,
  type Checked,
  withChain,
  type Proof,
  type Trust,
  type WireProof,
} from '../../distribution/attestation.js';
import { policyKeyOf, type Expect } from '../../distribution/snapshot.js';
import { contentVersion } from '../../distribution/version.js';
import type { HeldBundle } from './apply.js';

/** The content hash of what `held` holds: the version an ack names and a snapshot is checked against. */
export function contentOf(held: HeldBundle): string {
  return contentVersion({ policy: held.policy, keys: held.keys, revocations: held.revocations.values() });
}

export const policyKey = (held: HeldBundle): string => policyKeyOf(held);

export interface VouchOptions {
  readonly caPem: string | undefined;
  readonly url: URL;
  readonly namespace: string | undefined;
  readonly log: Logger;
}

/** /status `snapshot.trust`: why the file was or was not enforced at start. */
export interface VouchStatus {
  /** The held version carries a verified operator signature (a restart could use its file). */
  readonly signed: boolean;
  /** Why the snapshot file was refused at start; null when it was not. */
  readonly refused: string | null;
}

function trustOf(caPem: string | undefined, url: URL, log: Logger): Trust | undefined {
  if (caPem === undefined) return undefined;
  try {
    const anchors = certificatesOf(caPem);
    // URL.hostname keeps the brackets of an IPv6 literal.
    return anchors.length === 0 ? undefined : { anchors, host: url.hostname.replace(/^\[|\]$/g, '') };
  } catch (err) {
    log.error({ err: (err as Error).message }, 'control-plane CA unreadable; snapshots cannot be checked');
    return undefined;
  }
}

export class Vouched {
  readonly #o: VouchOptions;
  readonly #trust: Trust | undefined;
  #proof: { version: string; proof: Proof } | undefined;
  /** The certificate chain of the last full proof received: what a compact proof names. */
  #chain: readonly string[] | undefined;
  /** Chains already checked against the pinned CA and host: each message checks time and signature. */
  readonly #checked: CheckedChains | undefined;
  #refused: string | undefined;
  #warnedFor: string | undefined;

  constructor(o: VouchOptions) {
    this.#o = o;
    this.#trust = trustOf(o.caPem, o.url, o.log);
    this.#checked = this.#trust === undefined ? undefined : new CheckedChains(this.#trust);
  }

  /** What a snapshot file is checked against. */
  expect(): Expect {
    return { trust: this.#trust, namespace: this.#o.namespace };
  }

  /**
   * A message applied with `held` as the result: keep its proof if it verifies. A compact proof
   * gets back the chain it names, from the last full proof received, before any check; the
   * chain is checked with every proof all the same, so holding it trusts nothing.
   */
  accept(held: HeldBundle, wire: WireProof | undefined): void {
    const version = held.version;
    if (wire !== undefined && 'chain' in wire) this.#chain = wire.chain;
    const proof = wire === undefined ? undefined : withChain(wire, this.#chain);
    const checked: Checked =
      wire === undefined
        ? { ok: false, error: 'the operator sent no proof' }
        : proof === undefined
          ? { ok: false, error: 'proof.chainId: names a certificate chain this sidecar was not sent' }
          : this.#trust === undefined
            ? { ok: false, error: 'no pinned control-plane CA to check it with' }
            : verifyAttestation(proof, { policy: policyKey(held), version }, this.#trust, this.#checked);
    if (checked.ok) {
      if (proof !== undefined) this.#proof = { version, proof };
      return;
    }
    this.#proof = undefined;
    if (this.#warnedFor !== version) {
      this.#warnedFor = version;
      this.#o.log.warn(
        { version, err: checked.error },
        'config not signed for keeping; no snapshot will be written',
      );
    }
  }

  /** The snapshot file was checked and enforced. */
  loaded(version: string, proof: Proof): void {
    this.#proof = { version, proof };
    this.#refused = undefined;
  }

  refused(error: string): void {
    this.#refused = error;
  }

  /** The proof of `version`, if the held one is vouched for. */
  proofFor(version: string): Proof | undefined {
    return this.#proof?.version === version ? this.#proof.proof : undefined;
  }

  status(heldVersion: string | undefined): VouchStatus {
    return {
      signed: heldVersion !== undefined && this.proofFor(heldVersion) !== undefined,
      refused: this.#refused ?? null,
    };
  }
}
