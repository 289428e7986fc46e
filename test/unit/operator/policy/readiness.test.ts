import { describe, expect, it } from 'vitest';
import type { KeyProblem } from '../../../../src/operator/policy/keys.js';
import { decideReady, type EnsureKeys } from '../../../../src/operator/policy/readiness.js';
import type { CompiledIssuer } from '../../../../src/policy/types.js';
import { policyObject, publicJwk } from '../fixtures.js';

const keysOk: EnsureKeys = () => Promise.resolve([]);
const keysDown =
  (message: string): EnsureKeys =>
  (issuers: readonly CompiledIssuer[]) =>
    Promise.resolve(issuers.map((i): KeyProblem => ({ issuer: i.issuer, message })));

describe('decideReady', () => {
  it('is Ready=True, reason Compiled, for a valid policy whose keys are available', async () => {
    const jwk = await publicJwk();
    const d = await decideReady(
      policyObject([{ issuer: 'https://a.example/', audiences: ['x'], jwks: { keys: [jwk] } }]),
      keysOk,
    );
    expect(d.ready.reason).toBe('Compiled');
    expect(d.ready.status).toBe('True');
    expect(d.ready.message).toBe('compiled generation 4: 1 issuer, 1 rule, mode Enforce');
    expect(d.compiled?.issuers.has('https://a.example/')).toBe(true);
  });

  it('is InvalidSpec naming every bad field', async () => {
    const obj = policyObject([
      { issuer: 'https://a.example/', audiences: [], jwksUri: 'http://example.com/jwks' },
    ]);
    const d = await decideReady(obj, keysOk);
    expect(d.ready.reason).toBe('InvalidSpec');
    expect(d.ready.status).toBe('False');
    expect(d.ready.message).toContain('spec.issuers[0].jwksUri');
    expect(d.ready.message).toContain('spec.issuers[0].audiences');
    expect(d.compiled).toBeUndefined();
  });

  it('is KeysUnavailable naming the issuer and why, and never asks for keys of an invalid spec', async () => {
    const obj = policyObject([{ issuer: 'http://127.0.0.1:1/', audiences: ['x'], discovery: true }]);
    const d = await decideReady(obj, keysDown('connect ECONNREFUSED 127.0.0.1:1'));
    expect(d.ready.reason).toBe('KeysUnavailable');
    expect(d.ready.message).toBe(
      'no usable keys for issuer http://127.0.0.1:1/: connect ECONNREFUSED 127.0.0.1:1',
    );
    let asked = false;
    await decideReady(policyObject([]), () => {
      asked = true;
      return Promise.resolve([]);
    });
    expect(asked).toBe(false);
  });

  it('keeps a message bounded when a cause is verbose', async () => {
    const obj = policyObject([{ issuer: 'https://a.example/', audiences: ['x'], discovery: true }]);
    const d = await decideReady(obj, keysDown('x'.repeat(5000)));
    expect(d.ready.message.length).toBeLessThan(700);
  });
});
