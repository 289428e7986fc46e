/**
 * The in-cluster black-box files' shared parts: the policy and revocations the stand-in operator
 * (test/support/stream-server.ts) pushes, the issuer keys it pushes with them, a real sidecar
 * started against it, the status a request gets through a sidecar, and the world each file
 * starts from.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JWK } from 'jose';
import { afterAll, beforeAll } from 'vitest';
import type { TokenPolicy, TokenRevocation } from '../../../src/policy/types.js';
import {
  startStreamServer,
  type StreamServer,
  type StreamServerOptions,
} from '../../support/stream-server.js';
import { startApp, type App } from './app.js';
import { send } from './http.js';
import { AUDIENCE, startIssuer, type Issuer } from './issuer.js';
import { startSidecar, stopAllSidecars, type Sidecar } from './sidecar.js';

/** Enforce, the issuer's JWKS by URI, RS256 and ES256; `extra` replaces or adds spec fields. */
export function streamPolicy(issuer: Issuer, extra: Partial<TokenPolicy['spec']> = {}): TokenPolicy {
  return {
    apiVersion: 'tokenwarden.dev/v1alpha1',
    kind: 'TokenPolicy',
    metadata: { name: 'orders-api', namespace: 'shop', generation: 1 },
    spec: {
      selector: { matchLabels: { app: 'orders' } },
      targetPort: 8080,
      mode: 'Enforce',
      issuers: [
        {
          issuer: issuer.url,
          audiences: [AUDIENCE],
          jwksUri: issuer.jwksUri,
          algorithms: ['RS256', 'ES256'],
        },
      ],
      ...extra,
    },
  };
}

export function jtiRevocation(name: string, jti: string): TokenRevocation {
  return {
    apiVersion: 'tokenwarden.dev/v1alpha1',
    kind: 'TokenRevocation',
    metadata: { name, namespace: 'shop' },
    spec: { reason: 'black-box test', tokens: [{ jti }] },
  };
}

/** Public JWKs of the issuer's published keys: what the operator pushes. */
export function pushedKeys(issuer: Issuer): JWK[] {
  return [...issuer.published].map((kid) => issuer.keys.get(kid)?.jwk ?? {});
}

export interface StreamSidecarOptions {
  name: string;
  server: StreamServer;
  upstream: string;
  tokenFile: string;
  stateDir: string;
  env?: Record<string, string>;
}

/** A real sidecar in in-cluster mode against `server`, as pod `<name>-pod` of namespace shop. */
export function startStreamSidecar(o: StreamSidecarOptions): Promise<Sidecar> {
  return startSidecar({
    name: o.name,
    upstream: o.upstream,
    args: ['--control-plane', o.server.url, '--token-file', o.tokenFile, '--state-dir', o.stateDir],
    env: { TOKENWARDEN_CA_PEM: o.server.caPem, POD_NAME: `${o.name}-pod`, POD_NAMESPACE: 'shop', ...o.env },
  });
}

/** The status of one request through the sidecar, with `token` as bearer when given. */
export const statusThrough = async (s: Sidecar, token?: string, path = '/orders'): Promise<number> =>
  (await send(s.proxyUrl, path, token === undefined ? {} : { token })).status;

export interface StreamWorld {
  issuer: Issuer;
  app: App;
  /** The stand-in operator. */
  server: StreamServer;
  /** A temporary directory, removed after the file. */
  dir: string;
  /** `dir`/token: where the file writes the pod's token for its sidecars. */
  tokenFile: string;
}

/**
 * The in-cluster files' world, set up once per file: an issuer, the recording app, a temporary
 * directory and the stand-in operator, its options made from the issuer. After the file every
 * sidecar the file started is stopped, then the server, the app and the issuer; the directory
 * is removed.
 */
export function useStreamWorld(
  name: string,
  serverOptions: (issuer: Issuer) => StreamServerOptions,
): StreamWorld {
  const world = {} as StreamWorld;
  beforeAll(async () => {
    world.issuer = await startIssuer();
    world.app = await startApp();
    world.dir = mkdtempSync(join(tmpdir(), `tokenwarden-bb-${name}-`));
    world.tokenFile = join(world.dir, 'token');
    world.server = await startStreamServer(serverOptions(world.issuer));
  });
  afterAll(async () => {
    await stopAllSidecars();
    await world.server?.close();
    await world.app?.close();
    await world.issuer?.close();
    if (world.dir) rmSync(world.dir, { recursive: true, force: true });
  });
  return world;
}
