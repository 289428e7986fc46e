/**
 * A real identity provider on 127.0.0.1: RSA and EC key pairs from jose, the public halves served
 * as a JWKS over node:http, every JWKS request counted. Switches let a test rotate keys, slow
 * the source down, or take it off the network and bring it back on the same port.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CompactSign, exportJWK, exportSPKI, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { recordToken } from './ledger.js';

export const AUDIENCE = 'orders-api';

export type KeyAlg = 'RS256' | 'ES256';

export interface IssuerKey {
  readonly kid: string;
  readonly alg: KeyAlg;
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
  readonly jwk: JWK;
  /** SPKI PEM of the public key: the "secret" of an HS256 key-confusion forgery. */
  readonly publicPem: string;
}

/** Claims to sign; a claim set to undefined is left out of the token. */
export type Claims = Record<string, unknown>;

export interface SignOptions {
  kid?: string;
  /** Extra or replaced protected-header parameters (alg included). */
  header?: Record<string, unknown>;
}

export interface Issuer {
  /** The `iss` value, with its trailing slash: http://127.0.0.1:PORT/ */
  readonly url: string;
  readonly jwksUri: string;
  readonly keys: Map<string, IssuerKey>;
  /** kids currently served in the JWKS. */
  readonly published: Set<string>;
  /** JWKS requests answered (or attempted while up) so far. */
  jwksRequests(): number;
  /** Epoch ms of the latest JWKS request, 0 if none. */
  lastJwksRequestAt(): number;
  /** Generates a key (not published until `publish`). */
  addKey(kid: string, alg: KeyAlg): Promise<IssuerKey>;
  publish(kid: string): void;
  /** Default claims (iss, aud, sub, fresh jti, iat now, exp in 10 min) merged with `claims`. */
  claims(claims?: Claims): Claims;
  /** A token signed by `opts.kid` (default rsa-1) over `claims(extra)`. */
  token(extra?: Claims, opts?: SignOptions): Promise<string>;
  /** Signs exactly this payload (no defaults). */
  signRaw(payload: Claims, opts?: SignOptions): Promise<string>;
  /** Answer JWKS requests only after this many ms. */
  setDelay(ms: number): void;
  /** Stops listening (connections refused) until `bringUp`. */
  takeDown(): Promise<void>;
  bringUp(): Promise<void>;
  close(): Promise<void>;
}

function defined(claims: Claims): Claims {
  return Object.fromEntries(Object.entries(claims).filter(([, v]) => v !== undefined));
}

export async function newKey(kid: string, alg: KeyAlg): Promise<IssuerKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, publicKey, jwk, publicPem: await exportSPKI(publicKey) };
}

export async function startIssuer(): Promise<Issuer> {
  const keys = new Map<string, IssuerKey>();
  const published = new Set<string>();
  let requests = 0;
  let lastAt = 0;
  let delayMs = 0;
  const server: Server = createServer((req, res) => {
    if (req.url !== '/jwks.json') {
      res.writeHead(404).end();
      return;
    }
    requests++;
    lastAt = Date.now();
    const body = JSON.stringify({ keys: [...published].map((kid) => keys.get(kid)?.jwk) });
    const send = (): void => {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(body);
    };
    if (delayMs > 0) setTimeout(send, delayMs);
    else send();
  });
  const listen = (port: number): Promise<number> =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve((server.address() as AddressInfo).port);
      });
    });
  const port = await listen(0);
  const url = `http://127.0.0.1:${port}/`;
  let up = true;

  const down = (): Promise<void> =>
    new Promise((resolve) => {
      if (!up) return resolve();
      up = false;
      server.closeAllConnections();
      server.close(() => resolve());
    });

  const issuer: Issuer = {
    url,
    jwksUri: `${url}jwks.json`,
    keys,
    published,
    jwksRequests: () => requests,
    lastJwksRequestAt: () => lastAt,
    async addKey(kid, alg) {
      const key = await newKey(kid, alg);
      keys.set(kid, key);
      return key;
    },
    publish(kid) {
      published.add(kid);
    },
    claims(extra = {}) {
      const now = Math.floor(Date.now() / 1000);
      return defined({
        iss: url,
        aud: AUDIENCE,
        sub: 'user-alice',
        jti: randomUUID(),
        iat: now,
        exp: now + 600,
        ...extra,
      });
    },
    token(extra = {}, opts = {}) {
      return issuer.signRaw(issuer.claims(extra), opts);
    },
    async signRaw(payload, opts = {}) {
      const kid = opts.kid ?? 'rsa-1';
      const key = keys.get(kid);
      if (key === undefined) throw new Error(`issuer has no key ${kid}`);
      const header = { alg: key.alg, kid, typ: 'JWT', ...opts.header };
      const token = await new CompactSign(new TextEncoder().encode(JSON.stringify(defined(payload))))
        .setProtectedHeader(header)
        .sign(key.privateKey);
      recordToken(token);
      return token;
    },
    setDelay(ms) {
      delayMs = ms;
    },
    takeDown: down,
    async bringUp() {
      if (up) return;
      await listen(port);
      up = true;
    },
    close: down,
  };
  await issuer.addKey('rsa-1', 'RS256');
  await issuer.addKey('ec-1', 'ES256');
  issuer.publish('rsa-1');
  issuer.publish('ec-1');
  return issuer;
}
