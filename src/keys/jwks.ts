/**
 * A fetched JWK set reduced to the keys that may verify a signature, and the matching of a token
 * header (`kid`, `alg`) against them. Selection rules, each a reason a key is skipped:
 * symmetric (`kty: oct`) or unknown key types; any private member (a JWKS that leaks a private
 * key is misconfigured, and using it would make us complicit); `use` other than `sig`;
 * `key_ops` without `verify`; an `alg` outside the asymmetric allow-list; a key jose cannot
 * import; an RSA key under 2048 bits.
 */
import { importJWK, type CryptoKey, type JWK } from 'jose';
import { ALGORITHMS, type Algorithm } from '../policy/types.js';

/** Keys beyond this many in one set are ignored: bounds import work per fetch. */
export const MAX_KEYS = 100;

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k', 'priv'] as const;
const CURVE_OF: Partial<Record<Algorithm, string>> = { ES256: 'P-256', ES384: 'P-384', ES512: 'P-521' };
const ALG_OF_CURVE: Record<string, Algorithm> = { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' };

export interface KeyEntry {
  readonly kid: string | undefined;
  readonly jwk: JWK;
  /** Imports by alg, memoised: WebCrypto binds a key to one algorithm (an RS256 key is not a PS256 key). */
  readonly imports: Map<string, Promise<CryptoKey | undefined>>;
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

/** Import `entry` for `alg` (memoised); undefined when jose refuses the key. */
export function importFor(entry: KeyEntry, alg: Algorithm): Promise<CryptoKey | undefined> {
  let p = entry.imports.get(alg);
  if (p === undefined) {
    p = importJWK(entry.jwk, alg).then(
      (k) => (k instanceof Uint8Array || tooShort(k) ? undefined : k),
      () => undefined,
    );
    entry.imports.set(alg, p);
  }
  return p;
}

/** jose refuses RSA keys under 2048 bits at verify time; refuse them here, where it is not a surprise. */
function tooShort(key: CryptoKey): boolean {
  const { modulusLength } = key.algorithm as { modulusLength?: number };
  return modulusLength !== undefined && modulusLength < 2048;
}

/** A JWKS document → its usable keys. A document that is not a JWK set is an error value. */
export async function buildKeySet(
  doc: unknown,
): Promise<{ ok: true; set: KeySet } | { ok: false; error: string }> {
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
    const entry: KeyEntry = { kid: jwk.kid, jwk, imports: new Map() };
    // Import once now so a key jose cannot use never counts as usable (the no-kid rule counts them).
    if ((await importFor(entry, alg)) !== undefined) entries.push(entry);
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
