/**
 * The operator's signature over each bundle version it serves (ADR 0012,
 * src/distribution/attestation.ts): made with the private key of the serving certificate, the
 * one the sidecars' TLS already authenticates, so they check it against the CA they pin and
 * no new key has to be distributed, stored or rotated. One signature per policy and version,
 * shared by every session; a new certificate (renewal, cert-manager) signs from then on, and a
 * sidecar checks each proof against the chain it carries.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { chainOf, signAttestation, type Proof } from '../../distribution/attestation.js';

export interface SigningMaterial {
  /** The serving certificate, leaf first (tls.crt). */
  readonly certPem: string;
  readonly keyPem: string;
}

/** Versions remembered per replica (a burst of changes to many policies stays cheap). */
const CACHE = 1024;

export class VersionSigner {
  #key: KeyObject | undefined;
  #chain: readonly string[] = [];
  readonly #cache = new Map<string, Proof>();

  constructor(private readonly now: () => number = Date.now) {}

  /** The serving certificate in force (at start and on every change). */
  use(m: SigningMaterial): void {
    this.#key = createPrivateKey(m.keyPem);
    this.#chain = chainOf(m.certPem);
    this.#cache.clear();
  }

  /** The proof of `version` of `policy` (`namespace/name`); undefined before any certificate. */
  proof(policy: string, version: string): Proof | undefined {
    if (this.#key === undefined) return undefined;
    const id = `${policy}\n${version}`;
    let p = this.#cache.get(id);
    if (p === undefined) {
      p = signAttestation(this.#key, this.#chain, { policy, version }, new Date(this.now()));
      if (this.#cache.size >= CACHE) this.#cache.delete(this.#cache.keys().next().value as string);
      this.#cache.set(id, p);
    }
    return p;
  }
}
