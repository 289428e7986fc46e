/**
 * Verified-token cache: keeps signature work off the hot path. Bounded, with CLOCK ("second
 * chance") eviction over a Map's insertion order: a hit only sets a bit, so the hot path never
 * mutates the Map (a delete + set per hit cost ~0.5 µs); eviction skips, and re-queues once,
 * every entry used since it was last looked at. No linked list, no allocation on a hit.
 *
 * Keyed by `wholeTokenSha256`, signature INCLUDED. Keyed by the signed part alone, a token with a
 * forged signature would hit the entry of the genuine token verified earlier and be accepted
 * without any signature check: anyone who had seen a token once could replay its header and
 * payload with garbage in place of the signature for as long as the entry lived.
 *
 * Only signature and claim verification is cached. Revocation and reuse are checked on every
 * request, hit or miss, by the caller.
 *
 * Admission (`admitOnSecondSighting`, what the sidecar uses): a token is cached the second time
 * it is verified, not the first (the "doorkeeper" of W-TinyLFU, as in Caffeine). A token seen
 * once and never again (short-lived tokens, one per request) then costs no cache entry: no
 * long-lived object per request for the garbage collector to copy and promote, no eviction of
 * tokens that do repeat. Measured in the benchmark's all-miss rows (bench/README.md). The
 * doorkeeper is a fixed typed array of 32-bit token-hash fragments, each written in two slots: a
 * token's first sighting is remembered until tens of thousands of other first sightings have
 * passed, and nothing is allocated per token. A collision only admits a verified token one
 * sighting early.
 *
 * Invariants:
 * - an entry is never returned at or after its `cacheUntil` (exp, or the instant the token
 *   becomes too old), nor, for a token without either, after `maxTtlSeconds`;
 * - nothing verified under one policy or one key set is returned under another (`sync`).
 */
import type { CompiledPolicy } from '../policy/types.js';
import type { Verified } from './verify.js';

export const DEFAULT_MAX_ENTRIES = 10_000;
export const DEFAULT_MAX_BYTES = 16 * 1024 * 1024;
export const DEFAULT_MAX_TTL_SECONDS = 60;

/**
 * Estimated heap bytes of one entry: the key (64 hex characters), the Entry and Verified
 * objects, the fingerprint and token hash, and the parsed header and claims. Measured on Node 20
 * at ~660 bytes for a 220-character header + payload JSON; estimated as 512 + 2 × the JSON
 * length, an upper bound for typical claim sets (many small claims cost more per character).
 * The JSON length is the one received (`jsonBytes`, no serialising on the miss path) when the
 * verifier gave it, else the claims and header serialised again.
 */
export function entryBytes(value: Verified): number {
  const json = value.jsonBytes ?? JSON.stringify(value.claims).length + JSON.stringify(value.header).length;
  return 512 + 2 * json;
}

export interface VerifiedTokenCacheOptions {
  readonly maxEntries?: number;
  /** Most estimated bytes kept (see `entryBytes`); entries are evicted to stay under it. */
  readonly maxBytes?: number;
  /** Lifetime of an entry whose token has no exp (and no age limit). */
  readonly maxTtlSeconds?: number;
  /** Cache a token only the second time it is verified (see the file header). Default false. */
  readonly admitOnSecondSighting?: boolean;
}

/** Doorkeeper slots: a power of two (256 KiB of Uint32). */
const DOORKEEPER_SLOTS = 1 << 16;

interface Entry {
  readonly value: Verified;
  /** Epoch seconds: the entry is dead from this instant on. */
  readonly notAfter: number;
  readonly bytes: number;
  /** Used since eviction last passed over it: it gets a second chance. */
  used: boolean;
}

export class VerifiedTokenCache {
  private readonly entries = new Map<string, Entry>();
  private readonly maxEntries: number;
  private readonly maxBytes: number;
  private readonly maxTtlSeconds: number;
  #bytes = 0;
  private policy: CompiledPolicy | undefined;
  private specHash: string | undefined;
  private keysVersion = Number.NaN;
  /**
   * Lookups answered from the cache / not (absent or dead), since start. Plain numbers, read
   * at scrape time (tokenwarden_verified_token_cache_lookups_total{result}): nothing on the
   * request path touches a metrics library.
   */
  hits = 0;
  misses = 0;
  /** First sightings: slot (from the hash's first 16 bits) → the hash's next 32 bits. */
  readonly #doorkeeper: Uint32Array | undefined;

  constructor(options: VerifiedTokenCacheOptions = {}) {
    this.#doorkeeper = options.admitOnSecondSighting ? new Uint32Array(DOORKEEPER_SLOTS) : undefined;
    this.maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    this.maxTtlSeconds = options.maxTtlSeconds ?? DEFAULT_MAX_TTL_SECONDS;
    if (!(this.maxEntries >= 1) || !(this.maxTtlSeconds > 0) || !(this.maxBytes >= 1)) {
      throw new Error('VerifiedTokenCache: maxEntries and maxBytes must be ≥ 1 and maxTtlSeconds > 0');
    }
  }

  get size(): number {
    return this.entries.size;
  }

  /** Estimated bytes held (`entryBytes` summed); never above the configured cap. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Call before get/set on every request with the policy and key version in force: the cache
   * empties itself when either changed (a removed issuer, audience or key must stop accepting
   * tokens at once). Cheap when nothing changed: one identity and one number comparison.
   */
  sync(policy: CompiledPolicy, keysVersion: number): void {
    if (policy === this.policy && keysVersion === this.keysVersion) return;
    // A reload that recompiled the same spec keeps the cache; anything else clears it.
    if (policy.specHash !== this.specHash || keysVersion !== this.keysVersion) this.clear();
    this.policy = policy;
    this.specHash = policy.specHash;
    this.keysVersion = keysVersion;
  }

  /** The verified result for this whole-token hash, if still alive at `nowSeconds`. */
  get(wholeTokenSha256: string, nowSeconds: number): Verified | undefined {
    const entry = this.entries.get(wholeTokenSha256);
    if (entry === undefined) {
      this.misses++;
      return undefined;
    }
    if (nowSeconds >= entry.notAfter) {
      this.entries.delete(wholeTokenSha256);
      this.#bytes -= entry.bytes;
      this.misses++;
      return undefined;
    }
    entry.used = true;
    this.hits++;
    return entry.value;
  }

  set(wholeTokenSha256: string, value: Verified, nowSeconds: number): void {
    if (this.#doorkeeper !== undefined && !this.#secondSighting(this.#doorkeeper, wholeTokenSha256)) return;
    const notAfter = value.cacheUntil ?? nowSeconds + this.maxTtlSeconds;
    if (nowSeconds >= notAfter) return;
    const bytes = entryBytes(value);
    if (bytes > this.maxBytes) return; // could never fit: not cached, verified again next time
    const previous = this.entries.get(wholeTokenSha256);
    if (previous !== undefined) {
      this.entries.delete(wholeTokenSha256);
      this.#bytes -= previous.bytes;
    }
    while (
      this.entries.size > 0 &&
      (this.entries.size >= this.maxEntries || this.#bytes + bytes > this.maxBytes)
    ) {
      this.evictOne();
    }
    this.entries.set(wholeTokenSha256, { value, notAfter, bytes, used: false });
    this.#bytes += bytes;
  }

  /**
   * Oldest first; a used entry loses its bit and moves to the young end instead of leaving.
   * Ends within size + 1 steps: after one lap every bit is clear.
   */
  private evictOne(): void {
    for (const [key, entry] of this.entries) {
      this.entries.delete(key);
      if (!entry.used) {
        this.#bytes -= entry.bytes;
        return;
      }
      entry.used = false;
      this.entries.set(key, entry);
    }
  }

  /**
   * Records a first sighting and answers false; true when this hash was seen before. Two slots
   * per hash (16 bits each) holding a 32-bit tag: two tokens that share one slot and alternate
   * would overwrite each other forever in a one-slot table and never be cached (measured: 4 of a
   * 1,000-token pool); they are told apart by the other slot.
   */
  #secondSighting(doorkeeper: Uint32Array, hexSha256: string): boolean {
    const a = parseInt(hexSha256.slice(0, 4), 16);
    const b = parseInt(hexSha256.slice(4, 8), 16);
    // `| 1`: never 0, the value of an empty slot.
    const tag = (parseInt(hexSha256.slice(8, 16), 16) | 1) >>> 0;
    if (doorkeeper[a] === tag || doorkeeper[b] === tag) return true;
    doorkeeper[a] = tag;
    doorkeeper[b] = tag;
    return false;
  }

  clear(): void {
    this.entries.clear();
    this.#bytes = 0;
    this.#doorkeeper?.fill(0);
  }
}
