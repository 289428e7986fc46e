/**
 * The operator's signature over a config version (ADR 0012): what lets a sidecar trust a
 * snapshot file it reads back after a restart, when no operator vouches for it.
 *
 * The operator signs, with the private key of its serving certificate, the canonical JSON of
 * `{format, policy, version, signedAt}`; `version` is the content hash of the whole config
 * (version.ts `contentVersion`), so the signature covers every document. A sidecar checks the
 * certificate chain up to the CA it already pins for the stream's TLS (`--control-plane-ca`,
 * `TOKENWARDEN_CA_PEM`: part of the pod spec, not of the state directory), the leaf's name
 * against the control-plane host, the validity at `signedAt`, and the signature. Whoever can
 * write the state directory but not the operator's key cannot make a file that passes.
 */
import { X509Certificate, createHash, sign, verify, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { canonicalJson } from './version.js';

const ATTESTATION_FORMAT = 'tokenwarden.dev/config-attestation/v1';
/** Leaf, at most three intermediates: a longer chain is refused before any parsing. */
const MAX_CHAIN = 4;
const MAX_CERT_BASE64 = 16 * 1024;

export interface Proof {
  /** RFC 3339: when the operator signed. */
  readonly signedAt: string;
  /** base64url of the signature over `attestationPayload`. */
  readonly signature: string;
  /** The signer's certificate chain, leaf first, each base64 DER. */
  readonly chain: readonly string[];
}

/**
 * A proof as a stream line may carry it to a sidecar that asked for compact proofs: the chain is
 * named by its hash instead of sent again, because that session was already sent it (in its
 * first message, or after the operator's certificate changed). The sidecar puts the chain it
 * holds back in place before checking anything (`withChain`); a snapshot file always holds a
 * full `Proof`.
 */
export interface CompactProof {
  readonly signedAt: string;
  readonly signature: string;
  /** `chainIdOf` of the chain left out. */
  readonly chainId: string;
}

export type WireProof = Proof | CompactProof;

const chainIds = new WeakMap<readonly string[], string>();

/**
 * sha256 (base64url) of a chain's JSON array: the name a compact proof gives it, and the key of
 * `CheckedChains`. JSON, not a joined string: two different chains never share a spelling.
 * Memoised per array.
 */
export function chainIdOf(chain: readonly string[]): string {
  let id = chainIds.get(chain);
  if (id === undefined) {
    id = createHash('sha256').update(JSON.stringify(chain)).digest('base64url');
    chainIds.set(chain, id);
  }
  return id;
}

/** `proof` with its chain named instead of carried. */
export function compactOf(proof: Proof): CompactProof {
  return { signedAt: proof.signedAt, signature: proof.signature, chainId: chainIdOf(proof.chain) };
}

/**
 * The full proof of a wire proof, given the chain last received on the stream: undefined when a
 * compact proof names another chain (nothing to check it with; never trusted as checked).
 */
export function withChain(proof: WireProof, known: readonly string[] | undefined): Proof | undefined {
  if ('chain' in proof) return proof;
  if (known === undefined || chainIdOf(known) !== proof.chainId) return undefined;
  return { signedAt: proof.signedAt, signature: proof.signature, chain: known };
}

export interface Attested {
  /** `namespace/name` of the TokenPolicy. */
  readonly policy: string;
  readonly version: string;
}

export type Checked = { ok: true } | { ok: false; error: string };

function attestationPayload(a: Attested, signedAt: string): Buffer {
  return Buffer.from(
    canonicalJson({ format: ATTESTATION_FORMAT, policy: a.policy, version: a.version, signedAt }),
  );
}

/** sha256 for RSA and ECDSA keys; Ed25519/Ed448 hash internally. */
function algorithmFor(key: KeyObject): string | null {
  const type = key.asymmetricKeyType;
  return type === 'ed25519' || type === 'ed448' ? null : 'sha256';
}

export function signAttestation(key: KeyObject, chain: readonly string[], a: Attested, at: Date): Proof {
  const signedAt = at.toISOString();
  const signature = sign(algorithmFor(key), attestationPayload(a, signedAt), key).toString('base64url');
  return { signedAt, signature, chain };
}

/** The certificates of a PEM bundle (the pinned CA file may hold several). */
export function certificatesOf(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((b) => new X509Certificate(b));
}

/** base64 DER of each certificate of a PEM bundle, in order (the operator's tls.crt). */
export function chainOf(pem: string): string[] {
  return certificatesOf(pem).map((c) => c.raw.toString('base64'));
}

export interface Trust {
  /** The pinned CA certificates. */
  readonly anchors: readonly X509Certificate[];
  /** The control-plane host the leaf must be named for (DNS name or IP). */
  readonly host: string;
}

/**
 * Decodes base64 that is written the one way it encodes: node's decoder skips stray characters
 * and ignores a final character's unused bits, so without this one proof has many spellings.
 */
function canonical(text: string, encoding: 'base64' | 'base64url'): Buffer {
  const bytes = Buffer.from(text, encoding);
  if (bytes.toString(encoding) !== text) throw new Error(`not canonical ${encoding}`);
  return bytes;
}

function issuedBy(child: X509Certificate, parent: X509Certificate): boolean {
  return child.checkIssued(parent) && child.verify(parent.publicKey);
}

/** A chain found to lead from a leaf named for the host to a pinned CA. */
interface CheckedChain {
  readonly leaf: X509Certificate;
  /** When every certificate of it is valid: the latest notBefore, the earliest notAfter. */
  readonly from: number;
  readonly to: number;
}

/**
 * Chains already checked against one `Trust` (that very object: used with any other, it is
 * ignored), by `chainIdOf`: a sidecar sees the same chain on every message until the operator's
 * certificate changes, so only a proof's time and signature need checking after the first. A
 * few chains are held at most (a renewal makes two).
 */
export class CheckedChains {
  readonly #byId = new Map<string, CheckedChain>();
  constructor(
    readonly trust: Trust,
    private readonly max = 4,
  ) {}

  get(id: string): CheckedChain | undefined {
    return this.#byId.get(id);
  }

  set(id: string, c: CheckedChain): void {
    if (this.#byId.size >= this.max) this.#byId.delete(this.#byId.keys().next().value as string);
    this.#byId.set(id, c);
  }
}

/** The chain's certificates, its issuance up to a pinned CA and the leaf's name; not time. */
function checkChain(chain: readonly string[], trust: Trust): CheckedChain | { error: string } {
  if (chain.length === 0 || chain.length > MAX_CHAIN)
    return { error: `proof.chain: must hold 1 to ${MAX_CHAIN} certificates` };
  let certs: X509Certificate[];
  try {
    certs = chain.map((b64) => {
      if (b64.length > MAX_CERT_BASE64) throw new Error('certificate too large');
      const der = canonical(b64, 'base64');
      const cert = new X509Certificate(der);
      // The parser ignores bytes after the certificate: one certificate, one spelling.
      if (!cert.raw.equals(der)) throw new Error('bytes after the certificate');
      return cert;
    });
  } catch (err) {
    return { error: `proof.chain: not a certificate (${(err as Error).message})` };
  }
  const leaf = certs[0] as X509Certificate;
  let from = Number.NEGATIVE_INFINITY;
  let to = Number.POSITIVE_INFINITY;
  for (let i = 0; i < certs.length; i++) {
    const c = certs[i] as X509Certificate;
    from = Math.max(from, Date.parse(c.validFrom));
    to = Math.min(to, Date.parse(c.validTo));
    const parent = certs[i + 1];
    if (parent !== undefined && !(parent.ca && issuedBy(c, parent)))
      return { error: `proof.chain[${i}]: not issued by the next certificate` };
  }
  const top = certs[certs.length - 1] as X509Certificate;
  if (!trust.anchors.some((ca) => ca.fingerprint256 === top.fingerprint256 || issuedBy(top, ca)))
    return { error: 'proof.chain: not issued by the pinned control-plane CA' };
  const named = isIP(trust.host) === 0 ? leaf.checkHost(trust.host) : leaf.checkIP(trust.host);
  if (named === undefined) return { error: `proof.chain[0]: not a certificate for ${trust.host}` };
  return { leaf, from, to };
}

/**
 * Checks `proof` for `a` against `trust`; the error names what failed. With `checked` (kept for
 * this `trust`), a chain seen before is not parsed and walked again.
 */
export function verifyAttestation(proof: Proof, a: Attested, trust: Trust, checked?: CheckedChains): Checked {
  const at = Date.parse(proof.signedAt);
  if (Number.isNaN(at)) return { ok: false, error: 'proof.signedAt: not a time' };
  const memo = checked?.trust === trust ? checked : undefined;
  const id = memo === undefined ? undefined : chainIdOf(proof.chain);
  let chain = id === undefined ? undefined : memo?.get(id);
  if (chain === undefined) {
    const c = checkChain(proof.chain, trust);
    if ('error' in c) return { ok: false, error: c.error };
    chain = c;
    if (id !== undefined) memo?.set(id, c);
  }
  if (at < chain.from || at > chain.to) return { ok: false, error: 'proof.chain: not valid at signedAt' };
  let good = false;
  try {
    const signature = canonical(proof.signature, 'base64url');
    good = verify(
      algorithmFor(chain.leaf.publicKey),
      attestationPayload(a, proof.signedAt),
      chain.leaf.publicKey,
      signature,
    );
  } catch {
    good = false;
  }
  return good
    ? { ok: true }
    : { ok: false, error: 'proof.signature: does not verify for this policy and version' };
}

/**
 * Envelope check of a proof from the wire or a file; the error names the field. `compact`
 * admits a `CompactProof` (the stream, never a file): exactly one of `chain` and `chainId`.
 */
export function checkProofShape(v: unknown, field: string, compact = false): string | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return `${field}: must be an object`;
  const p = v as Record<string, unknown>;
  if (typeof p.signedAt !== 'string') return `${field}.signedAt: must be a string`;
  if (typeof p.signature !== 'string' || p.signature === '')
    return `${field}.signature: must be a non-empty string`;
  if (compact && p.chain === undefined) {
    if (typeof p.chainId !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(p.chainId))
      return `${field}.chainId: must be a sha256 in base64url (43 characters) when chain is absent`;
    return undefined;
  }
  if (compact && p.chainId !== undefined) return `${field}: chain and chainId are exclusive`;
  if (!Array.isArray(p.chain) || !p.chain.every((c) => typeof c === 'string'))
    return `${field}.chain: must be an array of strings`;
  return undefined;
}
