/**
 * The verifier tests' rig: real keys, real signatures, keys served by a real JWKS endpoint on
 * 127.0.0.1 (and an attacker's host beside it), `now` fixed. `useVerifyRig()` registers the
 * hooks of the calling test file; the keys and the verifier are read once they have run.
 */
import { afterAll, beforeAll } from 'vitest';
import { KeyStore } from '../../../src/keys/store.js';
import { TokenVerifier } from '../../../src/token/verify.js';
import type { CompiledPolicy } from '../../../src/policy/types.js';
import { startServer, type TestServer } from '../keys/server.js';
import {
  KEYGEN_TIMEOUT_MS,
  claims,
  ecKey,
  edKey,
  issuer,
  jws,
  policy,
  rsaKey,
  type TestKey,
} from '../../support/tokens.js';

export const RS_ONLY = 'https://rs-only.example.com/';

export interface VerifyRig {
  idp: TestServer;
  attacker: TestServer;
  store: KeyStore;
  verifier: TokenVerifier;
  /** Two issuers: the IdP's JWKS (RS256, PS256, ES256, EdDSA) and RS_ONLY with inline RS256 keys. */
  pol: CompiledPolicy;
  rsa: TestKey;
  /** An RSA key whose JWK pins alg RS256. */
  pinned: TestKey;
  ec: TestKey;
  ed: TestKey;
  /** The attacker's RSA key, served only by the attacker's host. */
  evil: TestKey;
  /** The attacker's EC key, under the same kid as the genuine one. */
  evilEc: TestKey;
}

/** Registers the calling file's hooks; the answer's fields are set once beforeAll has run. */
export function useVerifyRig(): VerifyRig {
  const rig = {} as VerifyRig;
  beforeAll(async () => {
    rig.rsa = rsaKey('rsa-1');
    rig.pinned = rsaKey('rsa-pinned', 'RS256');
    rig.ec = ecKey('ec-1');
    rig.ed = edKey('ed-1');
    rig.evil = rsaKey('evil');
    rig.evilEc = ecKey('ec-1'); // same kid as the genuine EC key
    rig.idp = await startServer();
    rig.attacker = await startServer();
    const { rsa, pinned, ec, ed, evil } = rig;
    rig.idp.routes.set('/jwks.json', () => ({ body: { keys: [rsa.jwk, pinned.jwk, ec.jwk, ed.jwk] } }));
    rig.attacker.routes.set('/jwks.json', () => ({ body: { keys: [evil.jwk] } }));
    rig.store = new KeyStore({ unknownKidCooldownMs: 0 });
    rig.pol = policy([
      issuer(
        { kind: 'jwksUri', uri: `${rig.idp.origin}/jwks.json` },
        { algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'] },
      ),
      issuer({ kind: 'inline', keys: [rsa.jwk] }, { issuer: RS_ONLY, algorithms: ['RS256'] }),
    ]);
    await rig.store.sync(rig.pol.issuers.values());
    rig.verifier = new TokenVerifier(rig.store);
  }, KEYGEN_TIMEOUT_MS);

  afterAll(async () => {
    rig.store?.close();
    await rig.idp?.close();
    await rig.attacker?.close();
  });
  return rig;
}

/** A token every check accepts at NOW, signed by `key` under `alg`, with `extra` claims. */
export const good = (key: TestKey, alg: string, extra: Record<string, unknown> = {}): string =>
  jws({ alg, kid: key.kid, typ: 'JWT' }, claims(extra), key.privateKey);

/** Replace one part (0 header, 1 payload, 2 signature) of a token. */
export function withPart(token: string, index: number, part: string): string {
  const parts = token.split('.');
  parts[index] = part;
  return parts.join('.');
}
