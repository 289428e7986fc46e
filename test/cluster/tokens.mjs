// Keys and tokens of the cluster suite: an ES256 JWK (public part) and signed tokens, one file
// each in the directory given (valid, valid2, expired; "none" is the absence of a token).
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { writeFileSync } from 'node:fs';

const dir = process.argv[2];
const { privateKey, publicKey } = await generateKeyPair('ES256');
const jwk = { ...(await exportJWK(publicKey)), kid: 'e2e', alg: 'ES256', use: 'sig' };
const now = Math.floor(Date.now() / 1000);
const sign = (sub, iat, exp, jti) =>
  new SignJWT({ sub })
    .setProtectedHeader({ alg: 'ES256', kid: 'e2e' })
    .setIssuer('https://issuer.e2e/')
    .setAudience('orders')
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .setJti(jti)
    .sign(privateKey);
writeFileSync(`${dir}/jwk.json`, JSON.stringify(jwk));
writeFileSync(`${dir}/valid`, await sign('alice', now, now + 3600, 'jti-valid'));
writeFileSync(`${dir}/valid2`, await sign('carol', now, now + 3600, 'jti-valid-2'));
writeFileSync(`${dir}/expired`, await sign('bob', now - 7200, now - 3600, 'jti-expired'));
writeFileSync(`${dir}/none`, '');
