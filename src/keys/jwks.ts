/**
 * A fetched JWK set reduced to the keys that may verify a signature, and the matching of a token
 * header (`kid`, `alg`) against them. Selection rules, each a reason a key is skipped:
 * symmetric (`kty: oct`) or unknown key types; any private member (a JWKS that leaks a private
 * key is misconfigured, and using it would make us complicit); `use` other than `sig`;
 * `key_ops` without `verify`; an `alg` outside the asymmetric allow-list; a key that does not
 * fit its own `alg` (or, without one, any alg of its type and curve); a key node:crypto cannot
 * import, or whose imported form disagrees with its JWK (type, curve); an RSA key under 2048
 * bits.
 *
 * Keys are imported with node:crypto (`createPublicKey`, format `jwk`) straight into the
 * KeyObjects that src/token/signature.ts verifies with (ADR 0004): synchronously, once per key
 * per set, and without loading jose (the sidecar must not carry it at run time). A KeyObject is
 * not bound to one algorithm as a WebCrypto key is; which algs a key may verify is decided here
 * (`fitProblem`, on the JWK) and checked again against the KeyObject before every verification.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import type { JWK } from 'jose';
import { ALGORITHMS, type Algorithm } from '../policy/types.js';

/** Keys beyond this many in one set are ignored: bounds import work per fetch. */
export const MAX_KEYS = 100;

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k', 'priv'] as const;
const CURVE_OF: Partial<Record<Algorithm, string>> = { ES256: 'P-256', ES384: 'P-384', ES512: 'P-521' };
const ALG_OF_CURVE: Record<string, Algorithm> = { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' };

export interface KeyEntry {
  readonly kid: string | undefined;
  readonly jwk: JWK;
  /** The public key, imported once when the set was built. */
  readonly key: KeyObject;
}

export interface KeySet {
  readonly entries: readonly KeyEntry[];
  /** Identity of the set's content: equal ids, same keys (the `version` bump is decided on it). */
  readonly id: string;
}

export const EMPTY_KEY_SET: KeySet = { entries: [], id: '[]' };

export type Match =
  | { readonly kind: 'found'; readonly entry: KeyEntry }
  | { readonly kind: 'none' }
  | { readonly kind: 'ambiguous'; readonly count: number }
  | { readonly kind: 'unfit'; readonly why: string };

/** Why `jwk` cannot verify `alg`, or undefined when it can. */
export function fitProblem(jwk: JWK, alg: Algorithm): string | undefined {
  if (jwk.alg !== undefined && jwk.alg !== alg) return `the key is pinned to ${jwk.alg}, not ${alg}`;
  const ok =
    alg.startsWith('RS') || alg.startsWith('PS')
      ? jwk.kty === 'RSA'
      : alg === 'EdDSA'
        ? jwk.kty === 'OKP' && (jwk.crv === 'Ed25519' || jwk.crv === 'Ed448')
        : jwk.kty === 'EC' && jwk.crv === CURVE_OF[alg];
  return ok ? undefined : `a ${jwk.kty} ${jwk.crv ?? ''} key cannot verify ${alg}`.replace('  ', ' ');
}

/** The algorithm used to test-import a key that does not name its own. */
function probeAlg(jwk: JWK): Algorithm | undefined {
  if (jwk.kty === 'RSA') return 'RS256';
  if (jwk.kty === 'EC') return jwk.crv === undefined ? undefined : ALG_OF_CURVE[jwk.crv];
  if (jwk.kty === 'OKP') return 'EdDSA';
  return undefined;
}

function isAlgorithm(v: unknown): v is Algorithm {
  return typeof v === 'string' && (ALGORITHMS as readonly string[]).includes(v);
}

function selectable(jwk: JWK): boolean {
  if (jwk.kty !== 'RSA' && jwk.kty !== 'EC' && jwk.kty !== 'OKP') return false;
  if (PRIVATE_MEMBERS.some((m) => (jwk as Record<string, unknown>)[m] !== undefined)) return false;
  if (jwk.use !== undefined && jwk.use !== 'sig') return false;
  if (jwk.key_ops !== undefined && !(Array.isArray(jwk.key_ops) && jwk.key_ops.includes('verify')))
    return false;
  if (jwk.kid !== undefined && typeof jwk.kid !== 'string') return false;
  return jwk.alg === undefined || isAlgorithm(jwk.alg);
}

/** node:crypto's name for each JWK curve this file accepts (asymmetricKeyDetails.namedCurve). */
const NODE_CURVE: Record<string, string> = {
  'P-256': 'prime256v1',
  'P-384': 'secp384r1',
  'P-521': 'secp521r1',
};

/**
 * `jwk` as a node:crypto public KeyObject, or undefined when node refuses it, when what it
 * built is not what the JWK says it is (type, curve), or when an RSA modulus is under 2048 bits
 * (RFC 7518 §3.3; jose refuses those too). Never throws.
 */
export function importKey(jwk: JWK): KeyObject | undefined {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: jwk, format: 'jwk' });
  } catch {
    return undefined;
  }
  if (key.type !== 'public') return undefined;
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails;
  switch (jwk.kty) {
    case 'RSA':
      return type === 'rsa' && (details?.modulusLength ?? 0) >= 2048 ? key : undefined;
    case 'EC':
      return type === 'ec' && jwk.crv !== undefined && details?.namedCurve === NODE_CURVE[jwk.crv]
        ? key
        : undefined;
    case 'OKP':
      return (type === 'ed25519' && jwk.crv === 'Ed25519') || (type === 'ed448' && jwk.crv === 'Ed448')
        ? key
        : undefined;
    default:
      return undefined;
  }
}

/**
 * A JWKS document → its usable keys. A document that is not a JWK set is an error value.
 * Synchronous work behind an async signature: callers outside this layer need not change if
 * importing ever has to wait again.
 */
export function buildKeySet(doc: unknown): Promise<{ ok: true; set: KeySet } | { ok: false; error: string }> {
  return Promise.resolve(buildKeySetSync(doc));
}

function buildKeySetSync(doc: unknown): { ok: true; set: KeySet } | { ok: false; error: string } {
  const keys = (doc as { keys?: unknown } | null)?.keys;
  if (typeof doc !== 'object' || doc === null || !Array.isArray(keys)) {
    return { ok: false, error: 'the document is not a JWK set (no "keys" array)' };
  }
  const entries: KeyEntry[] = [];
  for (const raw of keys.slice(0, MAX_KEYS) as unknown[]) {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) continue;
    const jwk = raw as JWK;
    if (!selectable(jwk)) continue;
    const alg = isAlgorithm(jwk.alg) ? jwk.alg : probeAlg(jwk);
    if (alg === undefined || fitProblem(jwk, alg) !== undefined) continue;
    // Imported now, so a key that cannot be used never counts as usable (the no-kid rule counts them).
    const key = importKey(jwk);
    if (key !== undefined) entries.push({ kid: jwk.kid, jwk, key });
  }
  return { ok: true, set: { entries, id: JSON.stringify(entries.map((e) => e.jwk)) } };
}

/**
 * With a `kid`: the keys with that exact kid (a plain string comparison: whatever the kid
 * holds, `../../etc/passwd` included, it can only fail to match). Without one: the single key
 * that fits `alg`, as a convenience for one-key issuers; several candidates are ambiguous.
 */
export function matchKey(set: KeySet, kid: string | undefined, alg: Algorithm): Match {
  let fit: KeyEntry | undefined;
  let count = 0;
  let why: string | undefined;
  for (const entry of set.entries) {
    if (kid !== undefined && entry.kid !== kid) continue;
    const problem = fitProblem(entry.jwk, alg);
    if (problem !== undefined) {
      why ??= problem;
      continue;
    }
    // With a kid the first fit wins (a provider may publish one kid for several key types).
    if (kid !== undefined) return { kind: 'found', entry };
    fit = entry;
    count++;
  }
  if (count === 1 && fit !== undefined) return { kind: 'found', entry: fit };
  if (count > 1) return { kind: 'ambiguous', count };
  // A kid that exists with the wrong key type is a forgery, not a rotation.
  if (kid !== undefined && why !== undefined) return { kind: 'unfit', why };
  return { kind: 'none' };
}
