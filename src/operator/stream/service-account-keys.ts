/**
 * The API server's service-account issuer and its public keys, as it publishes them
 * (`/.well-known/openid-configuration`, `/openid/v1/jwks`; readable by every ServiceAccount
 * through the `system:service-account-issuer-discovery` role), for pod-token.ts.
 *
 * Fetched at start (without blocking it: until the first answer every token is `undecided` and
 * goes to a TokenReview), again every `refreshMs`, and at once, at most every `minRefetchMs`,
 * when a token names a key not held (the API server's keys were rotated). A failed fetch keeps
 * the last good set: the keys only verify signatures, and an API server that stopped answering
 * has not revoked its keys.
 */
import type { Logger } from '../../log/logger.js';
import { buildKeySet } from '../../keys/jwks.js';
import type { ApiCaller } from '../runtime/api-call.js';
import { checkPodToken, type IssuerTrust, type PodTokenCheck } from './pod-token.js';

export const DISCOVERY_PATH = '/.well-known/openid-configuration';
export const JWKS_PATH = '/openid/v1/jwks';
/** Both documents are a few KiB; more is not one. */
const MAX_ANSWER_BYTES = 256 * 1024;
const TIMEOUT_MS = 10_000;

export interface ServiceAccountKeysOptions {
  readonly call: ApiCaller;
  readonly log: Logger;
  readonly refreshMs?: number;
  readonly minRefetchMs?: number;
  readonly now?: () => number;
}

export const DEFAULT_REFRESH_MS = 5 * 60_000;
export const DEFAULT_MIN_REFETCH_MS = 10_000;

export class ServiceAccountKeys {
  #trust: IssuerTrust | undefined;
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<void> | undefined;
  #lastFetchAt = -Infinity;
  readonly #now: () => number;

  constructor(private readonly o: ServiceAccountKeysOptions) {
    this.#now = o.now ?? Date.now;
  }

  /** Fetches now and every `refreshMs`; does not wait for the answer. */
  start(): void {
    void this.refresh();
    this.#timer = setInterval(() => void this.refresh(), this.o.refreshMs ?? DEFAULT_REFRESH_MS);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** What is held: undefined until the first successful fetch. */
  get trust(): IssuerTrust | undefined {
    return this.#trust;
  }

  /** `token` checked against what is held; a token naming an unknown key starts a refetch. */
  check(token: string): PodTokenCheck {
    const trust = this.#trust;
    if (trust === undefined) return { ok: 'undecided', why: 'unknown_key' };
    const checked = checkPodToken(token, trust, this.#now());
    if (checked.ok === 'undecided' && checked.why === 'unknown_key') {
      if (this.#now() - this.#lastFetchAt >= (this.o.minRefetchMs ?? DEFAULT_MIN_REFETCH_MS))
        void this.refresh();
    }
    return checked;
  }

  /** One fetch of both documents (callers joining one in flight share it). */
  refresh(): Promise<void> {
    this.#inFlight ??= this.#fetch().finally(() => (this.#inFlight = undefined));
    return this.#inFlight;
  }

  async #fetch(): Promise<void> {
    this.#lastFetchAt = this.#now();
    const discovery = await this.#get(DISCOVERY_PATH, 'application/json');
    const issuer = (discovery as { issuer?: unknown } | undefined)?.issuer;
    if (typeof issuer !== 'string' || issuer === '') {
      if (discovery !== undefined)
        this.o.log.warn({ path: DISCOVERY_PATH }, 'no issuer in the discovery document');
      return;
    }
    const jwks = await this.#get(JWKS_PATH, 'application/jwk-set+json, application/json');
    if (jwks === undefined) return;
    const built = await buildKeySet(jwks);
    if (!built.ok) {
      this.o.log.warn(
        { path: JWKS_PATH, error: built.error },
        'service-account keys unusable; keeping the last set',
      );
      return;
    }
    const changed = this.#trust?.issuer !== issuer || this.#trust.keys.id !== built.set.id;
    this.#trust = { issuer, keys: built.set };
    if (changed)
      this.o.log.info({ issuer, keys: built.set.entries.length }, 'service-account issuer keys loaded');
  }

  /** A JSON document from the API server, or undefined (logged). */
  async #get(path: string, accept: string): Promise<unknown> {
    const answer = await this.o.call({
      method: 'GET',
      path,
      accept,
      maxBytes: MAX_ANSWER_BYTES,
      timeoutMs: TIMEOUT_MS,
    });
    const error = !answer.ok ? answer.error : answer.status !== 200 ? `HTTP ${answer.status}` : undefined;
    if (error === undefined && answer.ok) {
      try {
        return JSON.parse(answer.body.toString('utf8')) as unknown;
      } catch {
        this.o.log.warn({ path }, 'service-account issuer document is not JSON; keeping the last keys');
        return undefined;
      }
    }
    this.o.log.warn({ path, error }, 'service-account issuer document not fetched; keeping the last keys');
    return undefined;
  }
}
