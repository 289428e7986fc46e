/**
 * A local identity provider for the receiver tests and bench/revocation-events.ts: an EC key
 * pair, its JWKS served over HTTP on 127.0.0.1, and real-shaped access tokens, back-channel
 * logout tokens and Shared Signals SETs signed with it (jose).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';

export const BACKCHANNEL_LOGOUT = 'http://schemas.openid.net/event/backchannel-logout';
export const SESSION_REVOKED = 'https://schemas.openid.net/secevent/caep/event-type/session-revoked';
export const CREDENTIAL_CHANGE = 'https://schemas.openid.net/secevent/caep/event-type/credential-change';
export const ACCOUNT_DISABLED = 'https://schemas.openid.net/secevent/risc/event-type/account-disabled';

export interface LocalIdp {
  /** `http://127.0.0.1:PORT/realms/test`: the `iss` of everything it signs. */
  readonly issuer: string;
  readonly jwksUri: string;
  readonly jwk: JWK;
  accessToken(
    claims: { sub: string; sid?: string; jti?: string; iat?: number },
    audience: string,
  ): Promise<string>;
  logoutToken(
    claims: { sub?: string; sid?: string; jti?: string; iat?: number },
    audience: string,
  ): Promise<string>;
  set(
    eventUri: string,
    subject: Record<string, unknown>,
    audience: string,
    eventTimestamp?: number,
  ): Promise<string>;
  close(): Promise<void>;
}

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

export async function startLocalIdp(): Promise<LocalIdp> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: 'idp-1', alg: 'ES256', use: 'sig' };
  const body = JSON.stringify({ keys: [jwk] });
  const server: Server = createServer((req, res) => {
    if (req.url !== '/realms/test/jwks') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://127.0.0.1:${port}/realms/test`;
  const sign = (
    payload: Record<string, unknown>,
    typ: string,
    key: CryptoKey = privateKey,
  ): Promise<string> =>
    new SignJWT(payload).setProtectedHeader({ alg: 'ES256', kid: 'idp-1', typ }).sign(key);
  return {
    issuer,
    jwksUri: `${issuer}/jwks`,
    jwk,
    accessToken: (c, audience) => {
      const iat = c.iat ?? nowSeconds();
      return sign(
        {
          iss: issuer,
          aud: audience,
          iat,
          exp: iat + 900,
          jti: c.jti ?? randomUUID(),
          sub: c.sub,
          ...(c.sid === undefined ? {} : { sid: c.sid }),
        },
        'at+jwt',
      );
    },
    logoutToken: (c, audience) =>
      sign(
        {
          iss: issuer,
          aud: audience,
          iat: c.iat ?? nowSeconds(),
          exp: (c.iat ?? nowSeconds()) + 120,
          jti: c.jti ?? randomUUID(),
          ...(c.sub === undefined ? {} : { sub: c.sub }),
          ...(c.sid === undefined ? {} : { sid: c.sid }),
          events: { [BACKCHANNEL_LOGOUT]: {} },
        },
        'logout+jwt',
      ),
    set: (eventUri, subject, audience, eventTimestamp) =>
      sign(
        {
          iss: issuer,
          aud: audience,
          iat: nowSeconds(),
          jti: randomUUID(),
          sub_id: subject,
          events: { [eventUri]: eventTimestamp === undefined ? {} : { event_timestamp: eventTimestamp } },
        },
        'secevent+jwt',
      ),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

export interface Posted {
  readonly status: number;
  readonly body: string;
}

/** POSTs `body` to the operator's HTTPS server (trusting its serving CA). */
export async function postToOperator(
  port: number,
  caPem: string,
  path: string,
  contentType: string,
  body: string,
): Promise<Posted> {
  const https = await import('node:https');
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        ca: caPem,
        headers: { 'content-type': contentType, 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('timed out')));
    req.end(body);
  });
}

export function logoutBody(token: string): string {
  return new URLSearchParams({ logout_token: token }).toString();
}
