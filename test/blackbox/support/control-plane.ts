/**
 * The in-cluster black-box files' shared parts: the policy and revocations the stand-in operator
 * (test/support/stream-server.ts) pushes, the issuer keys it pushes with them, a real sidecar
 * started against it, and the status a request gets through a sidecar.
 */
import type { JWK } from 'jose';
import type { TokenPolicy, TokenRevocation } from '../../../src/policy/types.js';
import type { StreamServer } from '../../support/stream-server.js';
import { send } from './http.js';
import { AUDIENCE, type Issuer } from './issuer.js';
import { startSidecar, type Sidecar } from './sidecar.js';

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
