/**
 * Sidecar tokens checked against the API server's service-account keys (the default
 * `--stream-auth issuer-keys`), against the real API server: its discovery document and JWKS,
 * pod-bound tokens from the TokenRequest API, and forgeries that must still be refused, some
 * locally and some by the TokenReview they fall back to.
 */
import type { KubeConfig, V1Pod } from '@kubernetes/client-node';
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jws } from '../support/tokens.js';
import { freshNamespace, loadKubeConfig } from './harness/namespace.js';
import {
  createPolicy,
  metricValue,
  policyBody,
  publicJwk,
  startJwksServer,
  waitFor,
} from './operator-support.js';
import {
  createPodWithSa,
  openStream,
  podToken,
  startServingOperator,
  type TestOperator,
} from './stream-support.js';

const REVIEWS = 'tokenwarden_operator_tokenreviews_total';
let kc: KubeConfig;
let ns: string;
let opNs: string;
let pod: V1Pod;
let jwks: { url: string; close: () => Promise<void> };
const operators: TestOperator[] = [];

const count = (op: TestOperator, result: string) => metricValue(op.registry, REVIEWS, { result });

/** The claims of the real token, re-signed by a key of our own (a forgery). */
function forged(real: string, header: Record<string, unknown>): string {
  const payload = JSON.parse(Buffer.from(real.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >;
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return jws({ alg: 'ES256', ...header }, payload, privateKey);
}

beforeAll(async () => {
  kc = loadKubeConfig();
  opNs = await freshNamespace(kc, 'tw-op');
  ns = await freshNamespace(kc, 'shop');
  jwks = await startJwksServer(await publicJwk());
  await createPolicy(kc, ns, policyBody('orders', { issuer: 'https://idp.example/', jwksUri: jwks.url }));
  pod = await createPodWithSa(kc, ns, 'orders-1', { app: 'orders' });
});

afterAll(async () => {
  for (const op of operators) await op.handle.stop();
  await jwks?.close();
});

describe('--stream-auth issuer-keys (the default)', () => {
  let op: TestOperator;
  beforeAll(async () => {
    op = await startServingOperator(kc, opNs);
    operators.push(op);
  });

  it('opens streams for pod-bound tokens without a TokenReview once the keys are fetched', async () => {
    // The keys are fetched at start without holding it up: wait until a token is verified locally.
    await waitFor('a token checked against the service-account keys', async () => {
      const s = await openStream(op.port, op.caPem(), await podToken(kc, pod));
      s.close();
      return s.status === 200 && (await count(op, 'verified')) > 0;
    });
    const reviewed = await count(op, 'reviewed');
    for (let i = 0; i < 3; i++) {
      const s = await openStream(op.port, op.caPem(), await podToken(kc, pod));
      expect(s.status).toBe(200);
      expect(await s.next()).toMatchObject({ type: 'snapshot' });
      s.close();
    }
    expect(await count(op, 'reviewed')).toBe(reviewed);
  });

  it('refuses, without a TokenReview, a token for another audience and a copy with a changed payload', async () => {
    const refusedBefore = await count(op, 'refused');
    const reviewed = await count(op, 'reviewed');
    const wrongAudience = await openStream(op.port, op.caPem(), await podToken(kc, pod, 'not-tokenwarden'));
    expect(wrongAudience).toMatchObject({ status: 401, refusal: { reason: 'token_invalid' } });

    // Another pod's claims under this token's signature.
    const other = await createPodWithSa(kc, ns, 'orders-2', { app: 'orders' });
    const [h, , sig] = (await podToken(kc, pod)).split('.');
    const spliced = `${h}.${(await podToken(kc, other)).split('.')[1]}.${sig}`;
    const s = await openStream(op.port, op.caPem(), spliced);
    expect(s).toMatchObject({ status: 401, refusal: { reason: 'token_invalid' } });
    expect(s.refusal?.message).toContain('signature');
    expect(await count(op, 'refused')).toBe(refusedBefore + 2);
    expect(await count(op, 'reviewed')).toBe(reviewed);
  });

  it('sends what the keys cannot decide to a TokenReview, which refuses forgeries', async () => {
    const real = await podToken(kc, pod);
    const reviewed = await count(op, 'reviewed');
    // The API server's issuer with a kid it never published; then another issuer altogether.
    const unknownKid = await openStream(op.port, op.caPem(), forged(real, { kid: 'not-a-published-kid' }));
    expect(unknownKid).toMatchObject({ status: 401, refusal: { reason: 'token_invalid' } });
    const header = JSON.parse(Buffer.from(real.split('.')[0] ?? '', 'base64url').toString('utf8')) as {
      kid: string;
    };
    const payload = JSON.parse(Buffer.from(real.split('.')[1] ?? '', 'base64url').toString('utf8')) as object;
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const otherIssuer = jws(
      { alg: 'ES256', kid: header.kid },
      { ...payload, iss: 'https://idp.example/' },
      privateKey,
    );
    const foreign = await openStream(op.port, op.caPem(), otherIssuer);
    expect(foreign).toMatchObject({ status: 401, refusal: { reason: 'token_invalid' } });
    expect(await count(op, 'reviewed')).toBe(reviewed + 2);
  });

  it("refuses a forgery under the published kid locally (the API server's key did not sign it)", async () => {
    const real = await podToken(kc, pod);
    const header = JSON.parse(Buffer.from(real.split('.')[0] ?? '', 'base64url').toString('utf8')) as {
      kid: string;
      alg: string;
    };
    const reviewed = await count(op, 'reviewed');
    // Same alg as the API server's key (the harness signs with an EC key), our own key.
    const s = await openStream(op.port, op.caPem(), forged(real, { kid: header.kid }));
    expect(s).toMatchObject({ status: 401, refusal: { reason: 'token_invalid' } });
    expect(await count(op, 'reviewed')).toBe(reviewed);
  });
});

describe('--stream-auth tokenreview', () => {
  it('reviews every new token with the API server', async () => {
    const op = await startServingOperator(kc, opNs, { 'stream-auth': 'tokenreview' });
    operators.push(op);
    for (let i = 0; i < 2; i++) {
      const s = await openStream(op.port, op.caPem(), await podToken(kc, pod));
      expect(s.status).toBe(200);
      s.close();
    }
    expect(await count(op, 'reviewed')).toBe(2);
    expect(await count(op, 'verified')).toBe(0);
  });
});
