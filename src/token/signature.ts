/**
 * JWS signature check with node:crypto, synchronously, on a KeyObject (ADR 0004).
 *
 * This is the verified-token cache's miss path, measured: jose's `compactVerify` goes through
 * WebCrypto (a thread-pool hop and promise per call) and costs 2–4× the process CPU of
 * `crypto.verify` on the same key (bench/README.md). Keys are imported by src/keys/jwks.ts
 * (node:crypto `createPublicKey` from the JWK, checked there against the JWK's type and curve),
 * the header and payload were decoded and checked by decode.ts (canonical base64url, no
 * `crit`, no `b64`), the alg passed the allow-list. What is left is RFC 7518 §3, as a table.
 */
import { constants, verify, type KeyObject } from 'node:crypto';
import type { Algorithm } from '../policy/types.js';

interface AlgParams {
  /** Digest for crypto.verify; null for EdDSA (the curve fixes it). */
  readonly hash: string | null;
  /** The key a token of this alg may be checked with. */
  readonly keyType: 'rsa' | 'ec' | 'okp';
  readonly namedCurve?: string;
  readonly padding?: number;
  readonly saltLength?: number;
  /** RFC 7518 §3.4: ECDSA signatures are R || S of fixed length, not DER. */
  readonly dsaEncoding?: 'ieee-p1363';
  /** Exact signature length in bytes where the alg fixes it. */
  readonly length?: number;
}

const PSS = constants.RSA_PKCS1_PSS_PADDING;
const PKCS1 = constants.RSA_PKCS1_PADDING;

const PARAMS: Readonly<Record<Algorithm, AlgParams>> = {
  RS256: { hash: 'sha256', keyType: 'rsa', padding: PKCS1 },
  RS384: { hash: 'sha384', keyType: 'rsa', padding: PKCS1 },
  RS512: { hash: 'sha512', keyType: 'rsa', padding: PKCS1 },
  // RFC 7518 §3.5: MGF1 with the same hash, salt as long as the hash output.
  PS256: { hash: 'sha256', keyType: 'rsa', padding: PSS, saltLength: 32 },
  PS384: { hash: 'sha384', keyType: 'rsa', padding: PSS, saltLength: 48 },
  PS512: { hash: 'sha512', keyType: 'rsa', padding: PSS, saltLength: 64 },
  ES256: { hash: 'sha256', keyType: 'ec', namedCurve: 'prime256v1', dsaEncoding: 'ieee-p1363', length: 64 },
  ES384: { hash: 'sha384', keyType: 'ec', namedCurve: 'secp384r1', dsaEncoding: 'ieee-p1363', length: 96 },
  ES512: { hash: 'sha512', keyType: 'ec', namedCurve: 'secp521r1', dsaEncoding: 'ieee-p1363', length: 132 },
  EdDSA: { hash: null, keyType: 'okp' },
};

/** What keyFits reads of a key, read once per KeyObject (asymmetricKeyDetails builds a new object per call). */
interface KeyShape {
  readonly public: boolean;
  readonly type: string | undefined;
  readonly modulusLength: number;
  readonly namedCurve: string | undefined;
}

const shapes = new WeakMap<KeyObject, KeyShape>();

function shapeOf(ko: KeyObject): KeyShape {
  let shape = shapes.get(ko);
  if (shape === undefined) {
    const details = ko.asymmetricKeyDetails;
    shape = {
      public: ko.type === 'public',
      type: ko.asymmetricKeyType,
      modulusLength: details?.modulusLength ?? 0,
      namedCurve: details?.namedCurve,
    };
    shapes.set(ko, shape);
  }
  return shape;
}

function keyFits(ko: KeyObject, p: AlgParams): boolean {
  const k = shapeOf(ko);
  if (!k.public) return false;
  switch (p.keyType) {
    case 'rsa':
      // RFC 7518 §3.3 and §3.5: 2048 bits or more (jose refuses smaller keys too).
      return k.type === 'rsa' && k.modulusLength >= 2048;
    case 'ec':
      return k.type === 'ec' && k.namedCurve === p.namedCurve;
    case 'okp':
      return k.type === 'ed25519' || k.type === 'ed448';
  }
}

/**
 * Whether `signature` (base64url, as in the token) is a valid signature of `signedPart` by
 * `key` under `alg`. Never throws: anything that is not a clean "valid" is false.
 */
export function signatureValid(
  alg: Algorithm,
  signedPart: string,
  signature: string,
  key: KeyObject,
): boolean {
  const p = PARAMS[alg];
  // The key layer chose a key that fits this alg; checking again keeps this function safe on its own.
  if (!keyFits(key, p)) return false;
  const sig = Buffer.from(signature, 'base64url');
  if (p.length !== undefined && sig.length !== p.length) return false;
  // PKCS#1 v1.5 is node's default for an RSA key: the KeyObject itself, no options to parse.
  const keyArg =
    p.padding === PKCS1
      ? key
      : { key, padding: p.padding, saltLength: p.saltLength, dsaEncoding: p.dsaEncoding };
  try {
    return verify(p.hash, Buffer.from(signedPart, 'latin1'), keyArg, sig);
  } catch {
    return false;
  }
}
