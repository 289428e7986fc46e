/**
 * The decision pipeline, one exit per request (Envoy jwt_authn's filter role):
 *
 *   resolve the request (request.ts: path, case, rule) → extract → verified-token cache |
 *     verify (signature + claims) → revocation → reuse → rule requirements → verdict.ts
 *
 * Cheap local checks run before any key lookup. Revocation and reuse run on every request,
 * cache hit or not: the cache only saves signature work. Cache hits decide synchronously (no
 * promise on the hot path), and so do misses whose key is already loaded (signature checks are
 * synchronous, ADR 0004); a decision is a promise only while the key layer must wait for a load
 * or when the reuse store answers with a promise (a shared store; the in-memory one never does).
 */
import type { KeyResolver } from '../keys/types.js';
import type { ReuseStore } from '../revocation/reuse-store.js';
import type { VerifiedTokenCache } from '../token/cache.js';
import { authorizationProblem } from '../token/credentials.js';
import { wholeTokenSha256 } from '../token/hash.js';
import type { TokenVerifier, Verified, VerifyResult } from '../token/verify.js';
import type { Decision } from './decision.js';
import { requestToken, resolveRequest, type RequestFacts, type ResolvedRequest } from './request.js';
import type { Enforcement, EnforcementState } from './state.js';
import { ReuseCounting, type UnavailableAction } from './reuse-step.js';
import { afterVerifyFailures, deniedByRule, malformedRequest, NO_TOKEN } from './steps.js';
import { deniedOrAudited, publicForward, refusedRequest, tokenInfo, verdict } from './verdict.js';

export interface EngineDeps {
  state: EnforcementState;
  verifier: TokenVerifier;
  cache: VerifiedTokenCache;
  /** Where reuse-limited tokens are counted (src/revocation/reuse-store.ts). */
  reuse: ReuseStore;
  /** Per-pod store for policies with `reuse.onUnavailable: count_per_pod`, used while `reuse` cannot answer. */
  reuseFallback?: ReuseStore;
  keys: KeyResolver;
  /** Epoch milliseconds. */
  now?: () => number;
  /** Called each time a use is refused because the reuse store is full (for a rate-limited log). */
  onReuseStoreFull?: () => void;
  /** Called each time the reuse store could not be asked, with what was done instead. */
  onReuseStoreUnavailable?: (detail: string, action: UnavailableAction) => void;
}

const UNAVAILABLE: Decision = { kind: 'unavailable', description: 'no policy loaded' };

export class Engine {
  readonly #deps: EngineDeps;
  readonly #now: () => number;
  readonly #reuse: ReuseCounting;

  constructor(deps: EngineDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
    this.#reuse = new ReuseCounting({
      store: deps.reuse,
      fallback: deps.reuseFallback,
      onFull: deps.onReuseStoreFull,
      onUnavailable: deps.onReuseStoreUnavailable,
    });
  }

  /** The policy enforced now, for answers given without a decision (no await between). */
  policyName(): string {
    return this.#deps.state.active?.policy.name ?? '';
  }

  decide(f: RequestFacts): Decision | Promise<Decision> {
    // One snapshot for the whole request: a reload mid-request cannot mix two configs.
    const active = this.#deps.state.active;
    const request = resolveRequest(active?.policy, f);
    if (request.problem !== undefined) return refusedRequest(active, request, request.problem);
    if (active === undefined) return UNAVAILABLE;
    const policy = active.policy;
    const rule = request.rule;
    if (rule?.action === 'Deny') {
      return deniedOrAudited(active, deniedByRule(rule, f.method, request.path), request, undefined);
    }
    if (rule?.action === 'Allow') {
      // No token is needed, but a malformed Authorization is refused here too (an app could
      // read a token out of `Bearer,abc`); Audit forwards it without that header.
      const bad = authorizationProblem(f.authorization);
      if (bad !== undefined) return deniedOrAudited(active, malformedRequest(bad), request, undefined);
      return publicForward(active, request, rule.name);
    }
    const extracted = requestToken(request);
    if (extracted.kind !== 'token') {
      const f = extracted.kind === 'none' ? NO_TOKEN : malformedRequest(extracted.description);
      return deniedOrAudited(active, f, request, undefined);
    }
    const token = extracted.token;
    const nowMs = this.#now();
    const cacheKey = wholeTokenSha256(token);
    const keysVersion = this.#deps.keys.version;
    this.#deps.cache.sync(policy, keysVersion);
    const hit = this.#deps.cache.get(cacheKey, nowMs / 1000);
    if (hit !== undefined) return this.#afterVerify(active, request, hit, nowMs / 1000);

    // A miss: synchronous too when the key is at hand; a promise only while keys are loading.
    const verified = this.#deps.verifier.verify(token, policy, nowMs / 1000);
    if (verified instanceof Promise) {
      return verified.then((result) => this.#afterMiss(active, request, result, cacheKey, keysVersion));
    }
    return this.#afterMiss(active, request, verified, cacheKey, keysVersion);
  }

  /** A verification's outcome: refused, or cached (when still current) and checked further. */
  #afterMiss(
    active: Enforcement,
    request: ResolvedRequest,
    result: VerifyResult,
    cacheKey: string,
    keysVersion: number,
  ): Decision | Promise<Decision> {
    if (!result.ok) {
      const info = result.fingerprint ? tokenInfo(result.fingerprint, result.claims) : undefined;
      return deniedOrAudited(active, { stage: 'token', ...result }, request, info);
    }
    const now = this.#now() / 1000;
    // Cache only what was verified against what is still in force: a reload or key rotation
    // that happened during verification (when it had to wait for keys) makes this result one
    // for the old config.
    if (this.#deps.state.active === active && this.#deps.keys.version === keysVersion) {
      this.#deps.cache.set(cacheKey, result, now);
    }
    return this.#afterVerify(active, request, result, now);
  }

  /**
   * Checks that depend on state that changes without the token changing: run on every request.
   * A promise only when the reuse store answers with one.
   */
  #afterVerify(
    active: Enforcement,
    request: ResolvedRequest,
    v: Verified,
    nowSeconds: number,
  ): Decision | Promise<Decision> {
    const failure = afterVerifyFailures({
      active,
      request,
      claims: v.claims,
      tokenSha256: v.tokenSha256,
      exp: v.exp ?? Infinity,
      nowSeconds,
      reuse: this.#reuse,
    });
    if (failure instanceof Promise) return failure.then((f) => verdict(active, request, v, f));
    return verdict(active, request, v, failure);
  }
}
