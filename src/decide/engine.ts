/**
 * The decision pipeline, one exit per request (Envoy jwt_authn's filter role):
 *
 *   rule lookup → extract → verified-token cache | verify (signature + claims)
 *     → revocation → reuse → rule requirements → forward
 *
 * Cheap local checks run before any key lookup. Revocation and reuse run on every request,
 * cache hit or not: the cache only saves signature work. Cache hits decide synchronously (no
 * promise on the hot path), and so do misses whose key is already loaded (signature checks are
 * synchronous, ADR 0004); a decision is a promise only while the key layer must wait for a load.
 */
import type { KeyResolver } from '../keys/types.js';
import { forwardedHeaders } from '../policy/evaluate.js';
import type { CompiledPolicy } from '../policy/types.js';
import type { ReuseStore } from '../revocation/reuse-store.js';
import type { VerifiedTokenCache } from '../token/cache.js';
import { wholeTokenSha256 } from '../token/hash.js';
import type { DenyReason } from '../core/reasons.js';
import type { TokenVerifier, Verified, VerifyResult } from '../token/verify.js';
import type { Decision, Forward, Reject, Stage, TokenInfo } from './decision.js';
import { requestToken, resolveRequest, type RequestFacts, type ResolvedRequest } from './request.js';
import type { ActiveConfig, ConfigState } from './state.js';
import { ReuseCounting, type UnavailableAction } from './reuse-step.js';
import {
  afterVerifyFailures,
  deniedByRule,
  malformedRequest,
  NO_TOKEN,
  type DecisionFailure,
} from './steps.js';

export interface EngineDeps {
  state: ConfigState;
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
const NO_HEADERS: readonly (readonly [string, string])[] = [];

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
    if (request.problem !== undefined) {
      return {
        kind: 'reject',
        stage: 'request',
        reason: 'malformed',
        description: request.problem,
        policy: active?.policy.name ?? '',
        generation: active?.generation ?? 0,
        rule: undefined,
        path: request.path,
        token: undefined,
      };
    }
    if (active === undefined) return UNAVAILABLE;
    const policy = active.policy;
    const rule = request.rule;
    if (rule?.action === 'Deny') {
      const denied = deniedByRule(rule, f.method, request.path);
      return this.#deniedOrAudited(
        active,
        denied.stage,
        denied.reason,
        denied.description,
        request,
        undefined,
      );
    }
    if (rule?.action === 'Allow') {
      return {
        kind: 'forward',
        decision: 'allow',
        reason: 'public',
        policy: policy.name,
        generation: active.generation,
        rule: rule.name,
        path: request.path,
        target: request.target,
        strip: active.strippedHeaders,
        headers: NO_HEADERS,
        keepToken: false,
        ...headerOptions(policy),
        token: undefined,
      };
    }
    const extracted = requestToken(request);
    if (extracted.kind !== 'token') {
      const f = extracted.kind === 'none' ? NO_TOKEN : malformedRequest(extracted.description);
      return this.#deniedOrAudited(active, f.stage, f.reason, f.description, request, undefined);
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
    active: ActiveConfig,
    request: ResolvedRequest,
    result: VerifyResult,
    cacheKey: string,
    keysVersion: number,
  ): Decision | Promise<Decision> {
    if (!result.ok) {
      const info: TokenInfo | undefined = result.fingerprint
        ? {
            fingerprint: result.fingerprint,
            sub: str(result.claims?.sub),
            jti: str(result.claims?.jti),
            iss: str(result.claims?.iss),
          }
        : undefined;
      return this.#deniedOrAudited(active, 'token', result.reason, result.description, request, info);
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
    active: ActiveConfig,
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
    if (failure instanceof Promise) return failure.then((f) => this.#verdict(active, request, v, f));
    return this.#verdict(active, request, v, failure);
  }

  /** The decision for a verified token, given the first failure of the checks after it. */
  #verdict(
    active: ActiveConfig,
    request: ResolvedRequest,
    v: Verified,
    failure: DecisionFailure | undefined,
  ): Decision {
    const claims = v.claims;
    // iss is a verified string (the issuer lookup needs it); the others are optional.
    const iss = claims.iss as string;
    const info: TokenInfo = { fingerprint: v.fingerprint, sub: str(claims.sub), jti: str(claims.jti), iss };
    if (failure !== undefined) {
      const r = this.#deniedOrAudited(
        active,
        failure.stage,
        failure.reason,
        failure.description,
        request,
        info,
      );
      if (r.kind === 'reject' && failure.scope !== undefined) r.scope = failure.scope;
      return r;
    }
    const headers =
      active.policy.forwardClaims.length === 0 ? NO_HEADERS : forwardedHeaders(active.policy, claims);
    return {
      kind: 'forward',
      decision: 'allow',
      reason: 'ok',
      policy: active.policy.name,
      generation: active.generation,
      rule: request.rule?.name,
      path: request.path,
      target: request.target,
      strip: active.strippedHeaders,
      headers,
      keepToken: active.policy.forwardToken === true,
      ...headerOptions(active.policy),
      token: info,
      exp: v.exp,
      iat: typeof claims.iat === 'number' ? claims.iat : undefined,
    };
  }

  /** Enforce: a refusal. Audit: the same verdict, forwarded and counted as audit_deny. */
  #deniedOrAudited(
    active: ActiveConfig,
    stage: Stage,
    reason: DenyReason,
    description: string,
    request: ResolvedRequest,
    token: TokenInfo | undefined,
  ): Reject | Forward {
    const rule = request.rule?.name;
    if (active.policy.mode === 'Audit') {
      const strip = active.strippedHeaders;
      return {
        kind: 'forward',
        decision: 'audit_deny',
        reason,
        description,
        policy: active.policy.name,
        generation: active.generation,
        rule,
        path: request.path,
        target: request.target,
        strip,
        headers: NO_HEADERS,
        keepToken: false,
        ...headerOptions(active.policy),
        token,
      };
    }
    return {
      kind: 'reject',
      stage,
      reason,
      description,
      policy: active.policy.name,
      generation: active.generation,
      rule,
      path: request.path,
      token,
    };
  }
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function headerOptions(p: CompiledPolicy): Pick<Forward, 'allowUnderscores' | 'trustedProxies'> {
  return { allowUnderscores: p.allowUnderscoreHeaders === true, trustedProxies: p.trustedProxies };
}
