import type { ObjectCache, V1Pod } from '@kubernetes/client-node';
import { pino } from 'pino';
import type { PolicyBundle } from '../../../../src/distribution/protocol.js';
import { PolicyCatalog } from '../../../../src/operator/policy/catalog.js';
import { SharedKeys } from '../../../../src/operator/policy/keys.js';
import type { RawObject } from '../../../../src/operator/runtime/informers.js';
import { StreamHub } from '../../../../src/operator/stream/hub.js';
import type { SessionIo } from '../../../../src/operator/stream/sessions.js';
import { VersionSigner, type SigningMaterial } from '../../../../src/operator/stream/signer.js';
import type { TokenPolicy, TokenRevocation } from '../../../../src/policy/types.js';

export function policy(generation = 1, audience = 'orders-api'): TokenPolicy {
  return {
    apiVersion: 'tokenwarden.dev/v1alpha1',
    kind: 'TokenPolicy',
    metadata: { name: 'orders', namespace: 'shop', generation },
    spec: {
      selector: { matchLabels: { app: 'orders' } },
      targetPort: 8080,
      issuers: [
        { issuer: 'https://idp.example/', audiences: [audience], jwksUri: 'https://idp.example/jwks' },
      ],
    },
  };
}

export function revocation(name: string, jti = name): TokenRevocation {
  return {
    apiVersion: 'tokenwarden.dev/v1alpha1',
    kind: 'TokenRevocation',
    metadata: { name, namespace: 'shop' },
    spec: { tokens: [{ jti }] },
  };
}

export function config(revs: TokenRevocation[], p = policy()): PolicyBundle {
  return {
    policy: p,
    keys: { 'https://idp.example/': { keys: [{ kty: 'EC', kid: 'k1' }] } },
    revocations: revs,
  };
}

/** An ObjectCache over a plain map: the informer's cache without an API server. */
export function cache<T extends { metadata?: { name?: string; namespace?: string } }>(
  items: T[],
): ObjectCache<T> & { items: T[] } {
  return {
    items,
    get: (name, ns) => items.find((o) => o.metadata?.name === name && o.metadata?.namespace === ns),
    list: (ns) => items.filter((o) => ns === undefined || o.metadata?.namespace === ns),
  };
}

/** The policy of the hub tests, as the informer holds it. */
export const rawPolicy: RawObject = {
  apiVersion: 'tokenwarden.dev/v1alpha1',
  kind: 'TokenPolicy',
  metadata: { name: 'orders', namespace: 'shop', uid: 'p1', generation: 1 },
  spec: {
    selector: { matchLabels: { app: 'orders' } },
    targetPort: 8080,
    issuers: [
      {
        issuer: 'https://idp.example/',
        audiences: ['a'],
        jwks: {
          keys: [
            {
              kty: 'EC',
              crv: 'P-256',
              kid: 'k',
              x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
              y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
            },
          ],
        },
      },
    ],
  },
};

/** A TokenRevocation `name` written to the revocation cache and announced to `hub`, one turn later. */
export async function revokeIn(hub: StreamHub, index: { items: RawObject[] }, name: string): Promise<void> {
  const rev = revocation(name);
  const metadata = { name, namespace: 'shop', uid: `r-${name}`, generation: 1 };
  index.items.push({ ...rev, metadata });
  hub.updates.revocationChanged(false, { kind: rev.kind, metadata, spec: rev.spec }, undefined);
  await new Promise((r) => setImmediate(r));
}

/**
 * A started hub serving shop/orders to pod shop/a, signing with `tls`; `io` records every line
 * written (head and shared body joined, parsed), `revoke` writes a revocation.
 */
export async function signedHub(tls: SigningMaterial) {
  const index = cache<RawObject>([]);
  const keys = new SharedKeys();
  const signer = new VersionSigner();
  signer.use(tls);
  const hub = new StreamHub({
    catalog: new PolicyCatalog(cache<RawObject>([rawPolicy])),
    pods: cache<V1Pod>([
      {
        metadata: { name: 'a', namespace: 'shop', uid: 'u-a', labels: { app: 'orders' } },
        status: { phase: 'Running' },
      },
    ]),
    revocations: index,
    keys,
    log: pino({ level: 'silent' }),
    signer,
  });
  await keys.ensure('shop/orders', []);
  hub.start();
  const lines: Record<string, unknown>[] = [];
  const bodies: Buffer[] = [];
  const io: SessionIo = {
    write: (l: string, body?: Buffer) => {
      if (body !== undefined) bodies.push(body);
      lines.push(JSON.parse(l + (body?.toString('utf8') ?? '')) as Record<string, unknown>);
      return true;
    },
    end: () => undefined,
  };
  const revoke = (name: string): Promise<void> => revokeIn(hub, index, name);
  return { hub, lines, bodies, io, revoke, signer };
}
