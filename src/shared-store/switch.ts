/**
 * The sidecar's ReuseStore: the in-memory table (synchronous, per pod) while the active policy
 * names no shared store, and the policy's Valkey/Redis store (src/shared-store/redis-store.ts)
 * when it does. The ioredis module is imported on the first policy that names one, never
 * before: a sidecar without a shared store does not load it (test/blackbox/memory.test.ts).
 *
 * `configure(policy)` runs on every applied config: the same store (by its compiled identity)
 * keeps its connection; another one replaces it; none closes it. Until the module is loaded and
 * the first connection made, uses wait a bounded time, then are `unavailable` (fail closed).
 */
import type { Logger } from '../log/logger.js';
import type { CompiledPolicy, CompiledSharedStore } from '../policy/types.js';
import type { ReuseKey, ReuseOutcome, ReuseStore, ReuseStoreStats } from '../revocation/reuse-store.js';
import { readStoreSecrets } from './credentials.js';
import { reuseTtlMs, sharedReuseKey } from './key.js';
import type { RedisCounter } from './redis-store.js';

interface Shared {
  readonly store: CompiledSharedStore;
  namespace: string;
  skewSeconds: number;
  counter: RedisCounter | undefined;
  /** The module import and client creation; resolves to the counter or to why there is none. */
  readonly ready: Promise<RedisCounter | string>;
  failed: string | undefined;
}

export interface SharedReuseSwitchOptions {
  /** The per-pod store: used when no shared store is configured. */
  readonly local: ReuseStore;
  readonly env: NodeJS.ProcessEnv;
  readonly log: Logger;
}

export class SharedReuseSwitch implements ReuseStore {
  readonly #o: SharedReuseSwitchOptions;
  #shared: Shared | undefined;
  #unavailable = 0;

  constructor(options: SharedReuseSwitchOptions) {
    this.#o = options;
  }

  /** Follows the active policy's `reuse.sharedStore`. */
  configure(policy: CompiledPolicy): void {
    const store = policy.reuse?.shared;
    const current = this.#shared;
    if (current !== undefined && current.store.identity === store?.identity) {
      current.namespace = policy.namespace;
      current.skewSeconds = policy.expiry.clockSkewSeconds;
      return;
    }
    if (current !== undefined) this.#closeShared(current);
    this.#shared = store === undefined ? undefined : this.#open(store, policy);
  }

  #open(store: CompiledSharedStore, policy: CompiledPolicy): Shared {
    const log = this.#o.log;
    const shared: Shared = {
      store,
      namespace: policy.namespace,
      skewSeconds: policy.expiry.clockSkewSeconds,
      counter: undefined,
      failed: undefined,
      ready: import('./redis-store.js')
        .then((m) => {
          const secrets = readStoreSecrets(this.#o.env);
          const counter = new m.RedisCounter(store, secrets, log);
          if (this.#shared === shared) shared.counter = counter;
          else void counter.close();
          return counter;
        })
        .catch((err: unknown) => {
          shared.failed = (err as Error).message;
          log.error({ err: shared.failed }, 'shared reuse store could not be set up');
          return shared.failed;
        }),
    };
    log.info(
      { mode: store.mode, addresses: addressList(store), tls: store.tls !== undefined },
      'shared reuse store configured',
    );
    return shared;
  }

  #closeShared(s: Shared): void {
    void s.ready.then((c) => (typeof c === 'string' ? undefined : c.close()));
  }

  use(key: ReuseKey, expSeconds: number, nowSeconds: number): ReuseOutcome | Promise<ReuseOutcome> {
    const s = this.#shared;
    if (s === undefined) return this.#o.local.use(key, expSeconds, nowSeconds);
    const redisKey = sharedReuseKey(s.namespace, key);
    const ttlMs = reuseTtlMs(expSeconds, s.skewSeconds, nowSeconds);
    const counted =
      s.counter !== undefined
        ? s.counter.count(redisKey, ttlMs)
        : s.ready.then((c) =>
            typeof c === 'string' ? { kind: 'unavailable' as const, detail: c } : c.count(redisKey, ttlMs),
          );
    return counted.then((o) => {
      if (o.kind === 'unavailable') this.#unavailable++;
      return o;
    });
  }

  sweep(nowSeconds: number): void {
    this.#o.local.sweep(nowSeconds);
  }

  stats(): ReuseStoreStats {
    const local = this.#o.local.stats();
    const s = this.#shared;
    if (s === undefined) return local;
    return {
      ...local,
      kind: 'shared',
      unavailable: this.#unavailable,
      shared: {
        mode: s.store.mode,
        addresses: addressList(s.store),
        tls: s.store.tls !== undefined,
        status: s.counter?.status ?? (s.failed !== undefined ? 'failed' : 'loading'),
      },
    };
  }

  async close(): Promise<void> {
    const s = this.#shared;
    this.#shared = undefined;
    if (s !== undefined) {
      const c = await s.ready;
      if (typeof c !== 'string') await c.close();
    }
    await this.#o.local.close();
  }
}

function addressList(s: CompiledSharedStore): string[] {
  return s.addresses.map((a) => (a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`));
}
