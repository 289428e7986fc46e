/**
 * The Valkey/Redis side of the shared reuse store: one ioredis client (standalone, Sentinel or
 * Cluster) that counts a use with one script call (EVALSHA, EVAL when the server does not have
 * it yet: ioredis's defineCommand). Loaded with `import()` only when a policy names a shared
 * store (src/shared-store/switch.ts), so a sidecar without one never loads ioredis.
 *
 * Fail fast, reconnect in the background: no offline queue, no retries of a command, nothing
 * resent after a reconnect, a per-command timeout; every failure is an `unavailable` outcome
 * (the decision then refuses with 503 or counts per pod), never an exception. Error details
 * come from ioredis and hold no credentials; the password is never logged or reported.
 */
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { ConnectionOptions } from 'node:tls';
import type { Logger } from '../log/logger.js';
import type { CompiledSharedStore } from '../policy/types.js';
import type { ReuseOutcome } from '../revocation/reuse-store.js';
import type { StoreSecrets } from './credentials.js';
import { COUNT_SCRIPT } from './key.js';

interface Counting {
  twReuseCount(key: string, ttlMs: number): Promise<number>;
}
type Client = (Redis | Cluster) & Counting;

/** Before the first connection: how long a request waits for it (then `unavailable`). */
const FIRST_CONNECT_WAIT_MS = 1000;

/** Reconnect after 50, 100, 200 … ms, at most 2 s, with jitter; never give up. */
function backoff(times: number): number {
  const base = Math.min(50 * 2 ** Math.min(times, 6), 2000);
  return Math.round(base / 2 + Math.random() * (base / 2));
}

function tlsOptions(s: CompiledSharedStore, secrets: StoreSecrets): ConnectionOptions | undefined {
  return s.tls === undefined ? undefined : { ca: secrets.ca, servername: s.tls.serverName };
}

function baseOptions(s: CompiledSharedStore, secrets: StoreSecrets): RedisOptions {
  const tls = tlsOptions(s, secrets);
  return {
    username: secrets.username,
    password: secrets.password,
    tls,
    commandTimeout: s.timeoutMs,
    connectTimeout: Math.max(1000, s.timeoutMs * 10),
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    enableReadyCheck: true,
    // INFO is not always permitted to an ACL user limited to the script: ready on connect.
    ...(secrets.username !== undefined ? { enableReadyCheck: false } : {}),
  };
}

function createClient(s: CompiledSharedStore, secrets: StoreSecrets): Client {
  const base = baseOptions(s, secrets);
  const addresses = s.addresses.map((a) => ({ host: a.host, port: a.port }));
  let client: Redis | Cluster;
  if (s.mode === 'cluster') {
    const options: ClusterOptions = {
      enableOfflineQueue: false,
      clusterRetryStrategy: backoff,
      slotsRefreshTimeout: Math.max(1000, s.timeoutMs * 10),
      redisOptions: base,
      // TLS certificates name hosts, not the addresses the cluster announces.
      ...(s.tls !== undefined ? { dnsLookup: (address, cb) => cb(null, address) } : {}),
    };
    client = new Cluster(addresses, options);
  } else if (s.mode === 'sentinel') {
    client = new Redis({
      ...base,
      enableOfflineQueue: false,
      retryStrategy: backoff,
      sentinels: addresses,
      name: s.sentinelMasterName,
      sentinelCommandTimeout: s.timeoutMs * 10,
      sentinelRetryStrategy: backoff,
      ...(s.tls !== undefined ? { enableTLSForSentinelMode: true, sentinelTLS: tlsOptions(s, secrets) } : {}),
    });
  } else {
    const first = addresses[0] as { host: string; port: number };
    client = new Redis({ ...base, ...first, enableOfflineQueue: false, retryStrategy: backoff });
  }
  client.defineCommand('twReuseCount', { numberOfKeys: 1, lua: COUNT_SCRIPT });
  return client as Client;
}

export class RedisCounter {
  readonly #client: Client;
  readonly #timeoutMs: number;
  #everReady = false;
  #readyWait: Promise<boolean> | undefined;
  #lastErrorLog = 0;

  constructor(store: CompiledSharedStore, secrets: StoreSecrets, log: Logger) {
    this.#timeoutMs = store.timeoutMs;
    this.#client = createClient(store, secrets);
    this.#client.on('ready', () => {
      if (!this.#everReady) log.info({ mode: store.mode }, 'shared reuse store connected');
      this.#everReady = true;
    });
    const onError = (err: Error): void => {
      const now = Date.now();
      if (now - this.#lastErrorLog < 10_000) return;
      this.#lastErrorLog = now;
      log.warn({ mode: store.mode, err: err.message }, 'shared reuse store connection error');
    };
    this.#client.on('error', onError);
    if (this.#client instanceof Cluster) this.#client.on('node error', onError);
  }

  /** `ready`, `connecting`, `reconnecting`, … (ioredis's status). */
  get status(): string {
    return this.#client.status;
  }

  /** One use of `key`, which lives `ttlMs` from its first use (0: forever). Never rejects. */
  async count(key: string, ttlMs: number): Promise<ReuseOutcome> {
    if (this.#client.status !== 'ready' && !(await this.#firstConnection())) {
      return { kind: 'unavailable', detail: `not connected (${this.#client.status})` };
    }
    try {
      const n = await this.#client.twReuseCount(key, ttlMs);
      if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) {
        return { kind: 'unavailable', detail: 'unexpected answer from the store' };
      }
      return { kind: 'counted', uses: n };
    } catch (err) {
      return { kind: 'unavailable', detail: (err as Error).message.slice(0, 200) };
    }
  }

  /** Until the first connection, requests wait for it a little; afterwards they fail at once. */
  #firstConnection(): Promise<boolean> {
    if (this.#everReady) return Promise.resolve(false);
    this.#readyWait ??= new Promise<boolean>((resolve) => {
      const done = (ok: boolean): void => {
        clearTimeout(timer);
        this.#client.off('ready', onReady);
        this.#readyWait = undefined;
        resolve(ok);
      };
      const onReady = (): void => done(true);
      const timer = setTimeout(() => done(false), Math.max(this.#timeoutMs, FIRST_CONNECT_WAIT_MS));
      this.#client.once('ready', onReady);
    });
    return this.#readyWait;
  }

  async close(): Promise<void> {
    this.#client.disconnect();
    await Promise.resolve();
  }
}
