/**
 * In-cluster mode as a config source: the snapshot file first (so a restart while the operator
 * is unreachable enforces the last applied state at once), then the stream, every applied
 * message written back to the snapshot file.
 *
 * Staleness (tokenwarden_config_staleness_seconds, /status): seconds since the sidecar last
 * knew its configuration was the operator's current one, i.e. since the last message applied
 * or heartbeat read on an in-sync stream. Connected and healthy it stays under the heartbeat
 * interval (5 s); disconnected it grows from the moment the stream was lost. Loaded from a
 * snapshot and never connected, it counts from when the operator signed the snapshot's version
 * (its `proof.signedAt`; the file's own `savedAt` is not authenticated).
 */
import { mkdir } from 'node:fs/promises';
import type { ControlPlaneConfig } from '../../config/sidecar.js';
import type { KeyStore } from '../../keys/store.js';
import type { Logger } from '../../log/logger.js';
import type { SidecarMetrics } from '../../metrics/sidecar.js';
import type { EnforcementState } from '../../decide/state.js';
import { StreamApplier } from './apply.js';
import type { BackoffOptions } from './reconnect-backoff.js';
import { StreamClient } from './client.js';
import { SnapshotWriter, loadSnapshot } from './snapshot-file.js';
import { Vouched, type VouchStatus } from './vouch.js';

export interface ControlPlaneSourceOptions {
  config: ControlPlaneConfig;
  state: EnforcementState;
  keys: KeyStore;
  metrics: SidecarMetrics;
  log: Logger;
  backoff?: BackoffOptions;
  now?: () => number;
}

export interface ControlPlaneStatus {
  kind: 'control-plane';
  url: string;
  connected: boolean;
  /** The content hash of the held config (no session id: /status shows no credential). */
  version: string | null;
  /** Epoch ms (see the file comment); undefined before any config. */
  lastInSyncAt: number | undefined;
  snapshot: { loadedVersion: string | null; writtenVersion: string | null } & VouchStatus;
}

export class ControlPlaneSource {
  readonly #o: ControlPlaneSourceOptions;
  readonly #now: () => number;
  readonly applier: StreamApplier;
  readonly #client: StreamClient;
  readonly #writer: SnapshotWriter;
  readonly #vouched: Vouched;
  #loadedVersion: string | undefined;
  #loadedSavedAt: number | undefined;

  constructor(o: ControlPlaneSourceOptions) {
    this.#o = o;
    this.#now = o.now ?? Date.now;
    const log = o.log;
    const { metrics } = o;
    this.applier = new StreamApplier({ state: o.state, keys: o.keys, now: this.#now });
    const vouched = (this.#vouched = new Vouched({
      caPem: o.config.caPem,
      url: o.config.url,
      namespace: o.config.podNamespace,
      log,
    }));
    this.#writer = new SnapshotWriter({
      dir: o.config.stateDir,
      log,
      current: () => {
        const held = this.applier.current();
        const proof = held === undefined ? undefined : vouched.proofFor(held.version);
        return held === undefined || proof === undefined ? undefined : { ...held, proof };
      },
    });
    this.#client = new StreamClient({
      url: o.config.url,
      caPem: o.config.caPem,
      tokenFile: o.config.tokenFile,
      applier: this.applier,
      log,
      backoff: o.backoff,
      now: this.#now,
      onApplied: (r, proof) => {
        metrics.configValid.set(1);
        vouched.accept(r.held, proof);
        log.info(
          {
            policy: r.held.compiled.name,
            version: r.held.version,
            generation: r.active.generation,
            revocations: r.active.revocations.size,
            changedRevocations: r.changed.revocations,
          },
          'config applied',
        );
        this.#writer.schedule();
      },
      onRefused: (error) => {
        metrics.configValid.set(0);
        metrics.configReloadErrors.inc({ source: 'control-plane' });
        const keeping = o.state.active
          ? `keeping generation ${o.state.active.generation}`
          : 'no policy enforced yet';
        log.error({ errors: error }, `config from the control plane refused; ${keeping}`);
      },
      onConnectedChange: (connected) => {
        metrics.controlPlaneConnected.set(connected ? 1 : 0);
        if (!connected)
          log.warn(
            { version: this.applier.held?.version ?? null },
            'control plane disconnected; enforcing the held config',
          );
      },
      onReconnect: (reason) => metrics.controlPlaneReconnects.inc({ reason }),
    });
    metrics.controlPlaneConnected.set(0);
  }

  /** The key store's onUnknownKid. */
  requestKeyRefresh(issuer: string, kid: string | undefined): void {
    this.#client.requestKeyRefresh(issuer, kid);
  }

  /** Loads the snapshot file (never throws: a bad file is logged and ignored), then connects. */
  async start(): Promise<void> {
    const { config, log } = this.#o;
    try {
      await mkdir(config.stateDir, { recursive: true });
    } catch (err) {
      log.error({ stateDir: config.stateDir, err: (err as Error).message }, 'state directory unusable');
    }
    const started = performance.now();
    const loaded = await loadSnapshot(config.stateDir, this.#vouched.expect());
    if (loaded.kind === 'refused') {
      this.#refuseSnapshot(loaded.error);
      log.error(
        { stateDir: config.stateDir, err: loaded.error },
        'snapshot refused; not enforcing it (waiting for the control plane)',
      );
    } else if (loaded.kind === 'ok') {
      const r = await this.applier.applySnapshot(loaded.value.version, loaded.value.config);
      if (r.ok) {
        this.#vouched.loaded(loaded.value.version, loaded.value.proof);
        this.#loadedVersion = loaded.value.version;
        // Staleness counts from when the operator signed that version: `savedAt` is not signed,
        // and a rewritten one must not make an old file look fresh.
        this.#loadedSavedAt = Date.parse(loaded.value.proof.signedAt);
        log.info(
          {
            version: loaded.value.version,
            savedAt: loaded.value.savedAt,
            bytes: loaded.bytes,
            revocations: r.active.revocations.size,
            ms: Math.round(performance.now() - started),
          },
          'snapshot loaded',
        );
      } else {
        this.#refuseSnapshot(r.error);
        log.error(
          { stateDir: config.stateDir, err: r.error },
          'snapshot refused; not enforcing it (waiting for the control plane)',
        );
      }
    } else {
      log.info(
        { stateDir: config.stateDir },
        'no snapshot; protected routes answer 503 until the control plane sends a config',
      );
    }
    this.#client.start();
  }

  /** Fail closed: nothing from the file is enforced; /status and the gauge say so. */
  #refuseSnapshot(error: string): void {
    this.#vouched.refused(error);
    this.#o.metrics.configValid.set(0);
  }

  async stop(): Promise<void> {
    await this.#client.stop();
    await this.#writer.flush();
  }

  /** Seconds (see the file comment); undefined while nothing is enforced. */
  staleness(): number | undefined {
    if (this.applier.held === undefined) return undefined;
    const since = this.#client.lastInSyncAt ?? this.#loadedSavedAt;
    return since === undefined ? undefined : Math.max(0, (this.#now() - since) / 1000);
  }

  status(): ControlPlaneStatus {
    return {
      kind: 'control-plane',
      url: this.#o.config.url.origin,
      connected: this.#client.connected,
      version: this.applier.held?.version ?? null,
      lastInSyncAt: this.#client.lastInSyncAt,
      snapshot: {
        loadedVersion: this.#loadedVersion ?? null,
        writtenVersion: this.#writer.writtenVersion ?? null,
        ...this.#vouched.status(this.applier.held?.version),
      },
    };
  }
}
