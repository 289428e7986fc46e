/**
 * The serving Secret `tokenwarden-serving` (type kubernetes.io/tls: tls.crt, tls.key, ca.crt,
 * and ca.key when the operator made the CA), kept usable and followed.
 *
 * Managed mode: a replica that finds no Secret creates one (create-only: of two replicas racing,
 * one create wins, the other gets 409 and reads the winner's); a certificate that expires within
 * 30 days or misses a name is replaced with an update carrying the resourceVersion it was
 * computed from (again one winner). cert-manager mode: never written, only waited for and read.
 * Either way the Secret is polled (one GET per interval per replica) and a change is announced,
 * so the HTTPS server swaps its TLS context and the webhook's caBundle sync follows the CA.
 */
import type { CoreV1Api, V1Secret } from '@kubernetes/client-node';
import { createHash } from 'node:crypto';
import type { Logger } from '../../log/logger.js';
import { FIELD_MANAGER, apiMessage, apiStatus } from '../runtime/k8s.js';
import {
  decideCertificate,
  issueServingCertificate,
  type CertificateRequest,
  type ServingMaterial,
} from './certificate.js';

export const SERVING_SECRET = 'tokenwarden-serving';
const DEFAULT_POLL_MS = 10_000;

/** What other parts (the webhook's caBundle sync) need of the managed CA. */
export interface ServingCa {
  /** PEM of the CA that signed the serving certificate ('' when cert-manager left ca.crt empty). */
  caPem(): string;
  /** Called with the new material after every change; returns an unsubscribe function. */
  onChange(listener: (m: ServingMaterial) => void): () => void;
}

export interface ManagedCertificateOptions {
  readonly core: CoreV1Api;
  readonly namespace: string;
  readonly want: CertificateRequest;
  readonly certManager: boolean;
  readonly log: Logger;
  readonly now?: () => number;
  readonly pollMs?: number;
  readonly name?: string;
}

function decode(secret: V1Secret | undefined): Partial<ServingMaterial> | undefined {
  const d = secret?.data;
  if (d === undefined) return undefined;
  const get = (k: string): string | undefined =>
    d[k] === undefined ? undefined : Buffer.from(d[k], 'base64').toString('utf8');
  const out: { certPem?: string; keyPem?: string; caPem?: string; caKeyPem?: string } = {};
  const cert = get('tls.crt');
  const key = get('tls.key');
  const ca = get('ca.crt');
  const caKey = get('ca.key');
  if (cert !== undefined) out.certPem = cert;
  if (key !== undefined) out.keyPem = key;
  if (ca !== undefined) out.caPem = ca;
  if (caKey !== undefined) out.caKeyPem = caKey;
  return out;
}

function encode(m: ServingMaterial): Record<string, string> {
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  return {
    'tls.crt': b64(m.certPem),
    'tls.key': b64(m.keyPem),
    'ca.crt': b64(m.caPem),
    ...(m.caKeyPem === undefined ? {} : { 'ca.key': b64(m.caKeyPem) }),
  };
}

function fingerprint(m: ServingMaterial): string {
  return createHash('sha256')
    .update(m.certPem)
    .update('\0')
    .update(m.keyPem)
    .update('\0')
    .update(m.caPem)
    .digest('hex');
}

export class ManagedCertificate implements ServingCa {
  private material: ServingMaterial | undefined;
  private stamp = '';
  private readonly listeners = new Set<(m: ServingMaterial) => void>();
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  private readonly name: string;
  private syncing: Promise<void> | undefined;

  constructor(private readonly o: ManagedCertificateOptions) {
    this.now = o.now ?? Date.now;
    this.name = o.name ?? SERVING_SECRET;
  }

  current(): ServingMaterial | undefined {
    return this.material;
  }

  caPem(): string {
    return this.material?.caPem ?? '';
  }

  onChange(listener: (m: ServingMaterial) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Resolves once a usable certificate is held (after creating it when managed), then keeps
   * polling. Rejects after `timeoutMs` without one (cert-manager never issued it, say).
   */
  async start(timeoutMs = 120_000): Promise<ServingMaterial> {
    const deadline = this.now() + timeoutMs;
    let waitMs = 200;
    for (;;) {
      await this.sync();
      if (this.material !== undefined) break;
      if (this.now() > deadline)
        throw new Error(
          `no usable certificate in Secret ${this.o.namespace}/${this.name}` +
            (this.o.certManager ? ' (is cert-manager issuing it?)' : ''),
        );
      await new Promise((r) => setTimeout(r, waitMs));
      waitMs = Math.min(waitMs * 2, 5_000);
    }
    this.timer = setInterval(() => void this.sync(), this.o.pollMs ?? DEFAULT_POLL_MS);
    this.timer.unref();
    return this.material;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One look at the Secret (single-flight): adopt it, or create/renew it when managed. */
  sync(): Promise<void> {
    this.syncing ??= this.syncOnce()
      .catch((err: unknown) =>
        this.o.log.warn({ status: apiStatus(err), err: apiMessage(err) }, 'serving secret sync failed'),
      )
      .finally(() => (this.syncing = undefined));
    return this.syncing;
  }

  private async syncOnce(): Promise<void> {
    const { core, namespace } = this.o;
    const secret = await core.readNamespacedSecret({ name: this.name, namespace }).catch((err: unknown) => {
      if (apiStatus(err) === 404) return undefined;
      throw err;
    });
    const found = decode(secret);
    if (this.o.certManager) {
      // cert-manager fills tls.crt/tls.key (and ca.crt for CA issuers); we only read.
      if (found?.certPem && found.keyPem)
        this.adopt({ certPem: found.certPem, keyPem: found.keyPem, caPem: found.caPem ?? '' });
      else
        this.o.log.info(
          { namespace, name: this.name },
          'waiting for cert-manager to issue the serving secret',
        );
      return;
    }
    const decision = decideCertificate(found, this.o.want, this.now());
    if (decision.action === 'keep') {
      this.adopt(found as ServingMaterial);
      return;
    }
    this.o.log.info(
      { namespace, name: this.name, reason: decision.reason, why: decision.message },
      'issuing serving certificate',
    );
    const next = issueServingCertificate(this.o.want, this.now(), found);
    const body: V1Secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: this.name,
        namespace,
        labels: { 'app.kubernetes.io/managed-by': 'tokenwarden' },
        ...(secret?.metadata?.resourceVersion === undefined
          ? {}
          : { resourceVersion: secret.metadata.resourceVersion }),
      },
      type: 'kubernetes.io/tls',
      data: encode(next),
    };
    try {
      if (secret === undefined)
        await core.createNamespacedSecret({ namespace, body, fieldManager: FIELD_MANAGER });
      else
        await core.replaceNamespacedSecret({ name: this.name, namespace, body, fieldManager: FIELD_MANAGER });
      this.adopt(next);
    } catch (err) {
      // Another replica wrote first: read what it wrote and use that.
      if (apiStatus(err) !== 409) throw err;
      this.o.log.info(
        { namespace, name: this.name },
        'serving secret written by another replica; reading it',
      );
      const winner = decode(await core.readNamespacedSecret({ name: this.name, namespace }));
      if (decideCertificate(winner, this.o.want, this.now()).action === 'keep')
        this.adopt(winner as ServingMaterial);
    }
  }

  private adopt(m: ServingMaterial): void {
    const stamp = fingerprint(m);
    if (stamp === this.stamp) return;
    const first = this.material === undefined;
    this.material = m;
    this.stamp = stamp;
    this.o.log.info(
      { namespace: this.o.namespace, name: this.name, fingerprint: stamp.slice(0, 12) },
      first ? 'serving certificate loaded' : 'serving certificate changed',
    );
    if (!first) for (const l of this.listeners) l(m);
  }
}
