import type { JWK } from 'jose';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { KeyStore } from '../../../src/keys/store.js';
import type { KeyStoreOptions, RefreshResult } from '../../../src/keys/types.js';
import type { CompiledIssuer } from '../../../src/policy/types.js';
import { ISSUER, KEYGEN_TIMEOUT_MS, ecKey, issuer, rsaKey, type TestKey } from '../../support/tokens.js';
import { sleep } from '../../support/wait.js';
import { startServer, type TestServer } from './server.js';

let k1: TestKey;
let k2: TestKey;
let ec: TestKey;

beforeAll(() => {
  k1 = rsaKey('k1');
  k2 = rsaKey('k2');
  ec = ecKey('ec-1');
}, KEYGEN_TIMEOUT_MS);

let server: TestServer;
let jwks: { keys: JWK[] };
let clock: number;
let refreshes: [string, RefreshResult, string | undefined][];
let store: KeyStore | undefined;

beforeEach(async () => {
  server = await startServer();
  jwks = { keys: [k1.jwk, ec.jwk] };
  // A little latency, so concurrent callers really overlap one fetch.
  server.routes.set('/jwks.json', () => ({ body: jwks, delayMs: 20 }));
  clock = 1_000_000;
  refreshes = [];
});

afterEach(async () => {
  store?.close();
  store = undefined;
  await server.close();
});

function newStore(options: KeyStoreOptions = {}): KeyStore {
  store = new KeyStore({
    now: () => clock,
    onRefresh: (iss, result, detail) => refreshes.push([iss, result, detail]),
    ...options,
  });
  return store;
}

const jwksIssuer = (): CompiledIssuer => issuer({ kind: 'jwksUri', uri: `${server.origin}/jwks.json` });

describe('KeyStore with a jwksUri', () => {
  it('loads the key set and resolves keys by kid; ready once loaded', async () => {
    const s = newStore();
    expect(s.ready).toBe(false);
    await s.sync([jwksIssuer()]);
    expect(s.ready).toBe(true);
    expect(await s.resolve(ISSUER, 'k1', 'RS256')).toMatchObject({ ok: true });
    expect(await s.resolve(ISSUER, 'ec-1', 'ES256')).toMatchObject({ ok: true });
    expect(s.status()).toEqual([
      { issuer: ISSUER, ready: true, keyCount: 2, lastSuccessAt: clock, lastError: undefined },
    ]);
    expect(refreshes).toEqual([[ISSUER, 'success', undefined]]);
  });

  it('answers a lookup that needs no load synchronously, and waits only for a load', async () => {
    const s = newStore();
    const loading = s.sync([jwksIssuer()]);
    const early = s.resolve(ISSUER, 'k1', 'RS256');
    expect(early).toBeInstanceOf(Promise); // the first load is in flight: wait for it
    await loading;
    expect(await early).toMatchObject({ ok: true });
    const found = s.resolve(ISSUER, 'k1', 'RS256');
    expect(found).not.toBeInstanceOf(Promise);
    expect(found).toEqual({ ok: true, key: expect.objectContaining({ type: 'public' }) });
    // A refusal that no refetch can change is synchronous too.
    expect(s.resolve(ISSUER, 'ec-1', 'RS256')).toMatchObject({ ok: false, reason: 'bad_signature' });
    // An unknown kid within the cooldown: no refetch, so no waiting.
    expect(s.resolve(ISSUER, 'nope', 'RS256')).toMatchObject({ ok: false, reason: 'unknown_key' });
    expect(s.resolve('https://other.example/', 'k1', 'RS256')).toMatchObject({
      ok: false,
      reason: 'unknown_key',
    });
    expect(server.count('/jwks.json')).toBe(1);
  });

  it('an unknown kid triggers exactly one fetch even under 50 concurrent calls', async () => {
    const s = newStore();
    await s.sync([jwksIssuer()]);
    clock += 1_000;
    const results = await Promise.all(
      Array.from({ length: 50 }, async () => s.resolve(ISSUER, 'nope', 'RS256')),
    );
    expect(server.count('/jwks.json')).toBe(2); // the initial load + one refetch
    expect(new Set(results.map((r) => (r.ok ? 'ok' : r.reason)))).toEqual(new Set(['unknown_key']));
    expect(results[0]).toEqual({
      ok: false,
      reason: 'unknown_key',
      description: 'no key with kid "nope" among the keys of its issuer',
    });
  });

  it('respects the cooldown between refetches on unknown kids', async () => {
    const s = newStore({ unknownKidCooldownMs: 1_000 });
    await s.sync([jwksIssuer()]);
    clock += 1_000;
    await s.resolve(ISSUER, 'nope-1', 'RS256');
    expect(server.count('/jwks.json')).toBe(2);
    clock += 999;
    await s.resolve(ISSUER, 'nope-2', 'RS256');
    expect(server.count('/jwks.json')).toBe(2);
    clock += 1;
    await s.resolve(ISSUER, 'nope-3', 'RS256');
    expect(server.count('/jwks.json')).toBe(3);
  });

  it('a rotated-in key works after the refetch, and the version moves', async () => {
    const s = newStore();
    await s.sync([jwksIssuer()]);
    const before = s.version;
    jwks = { keys: [k1.jwk, k2.jwk] };
    clock += 1_000;
    expect(await s.resolve(ISSUER, 'k2', 'RS256')).toMatchObject({ ok: true });
    expect(s.version).toBeGreaterThan(before);
  });

  it('keeps the keys it has while the source is down; an unknown kid is unknown_key', async () => {
    const s = newStore();
    await s.sync([jwksIssuer()]);
    await server.close();
    clock += 1_000;
    await s.refreshAll();
    expect(refreshes.at(-1)).toEqual([ISSUER, 'failure', expect.stringContaining('failed')]);
    expect(await s.resolve(ISSUER, 'k1', 'RS256')).toMatchObject({ ok: true });
    clock += 1_000;
    expect(await s.resolve(ISSUER, 'k2', 'RS256')).toMatchObject({ ok: false, reason: 'unknown_key' });
    expect(s.ready).toBe(true); // loaded once: still enforcing with the keys it has
    expect(s.status()[0]?.lastError).toContain('failed');
    server = await startServer(); // for afterEach
  });

  it('a source down from the start leaves the store not ready, and every kid unknown', async () => {
    const s = newStore();
    server.routes.set('/jwks.json', () => ({ status: 503 }));
    await s.sync([jwksIssuer()]);
    expect(s.ready).toBe(false);
    expect(refreshes).toEqual([[ISSUER, 'failure', expect.stringContaining('HTTP 503')]]);
    expect(await s.resolve(ISSUER, 'k1', 'RS256')).toMatchObject({ ok: false, reason: 'unknown_key' });
  });

  it('refuses an oversized JWKS and keeps the keys it had', async () => {
    const s = newStore({ maxResponseBytes: 1024 * 1024 });
    await s.sync([jwksIssuer()]);
    server.routes.set('/jwks.json', () => ({ body: { keys: [], pad: 'x'.repeat(1024 * 1024) } }));
    clock += 1_000;
    await s.refreshAll();
    expect(refreshes.at(-1)).toEqual([ISSUER, 'failure', expect.stringContaining('byte limit')]);
    server.routes.set('/jwks.json', () => ({
      body: { keys: [], pad: 'x'.repeat(1024 * 1024) },
      chunked: true,
    }));
    await s.refreshAll();
    expect(refreshes.at(-1)).toEqual([ISSUER, 'failure', expect.stringContaining('more than 1048576 bytes')]);
    expect(await s.resolve(ISSUER, 'k1', 'RS256')).toMatchObject({ ok: true });
  });

  it('refuses a document that is not a JWK set and keeps the keys it had', async () => {
    const s = newStore();
    await s.sync([jwksIssuer()]);
    server.routes.set('/jwks.json', () => ({ body: { error: 'oops' } }));
    await s.refreshAll();
    expect(refreshes.at(-1)).toEqual([ISSUER, 'failure', expect.stringContaining('not a JWK set')]);
    expect(await s.resolve(ISSUER, 'k1', 'RS256')).toMatchObject({ ok: true });
  });

  it('revalidates with the ETag: not_modified keeps the keys and the version', async () => {
    const s = newStore();
    server.routes.set('/jwks.json', (req) =>
      req.headers['if-none-match'] === '"v1"' ? { status: 304 } : { body: jwks, headers: { etag: '"v1"' } },
    );
    await s.sync([jwksIssuer()]);
    const version = s.version;
    await s.refreshAll();
    expect(refreshes.map((r) => r[1])).toEqual(['success', 'not_modified']);
    expect(s.version).toBe(version);
    expect(await s.resolve(ISSUER, 'k1', 'RS256')).toMatchObject({ ok: true });
  });

  it('a refetch that finds the same keys does not move the version', async () => {
    const s = newStore();
    await s.sync([jwksIssuer()]);
    const version = s.version;
    await s.refreshAll();
    expect(s.version).toBe(version);
  });

  it('refreshes periodically, and close() stops it', async () => {
    const s = newStore({ refreshIntervalMs: 50 });
    await s.sync([jwksIssuer()]);
    await sleep(400);
    const fetched = server.count('/jwks.json');
    expect(fetched).toBeGreaterThanOrEqual(3);
    s.close();
    await sleep(150);
    expect(server.count('/jwks.json')).toBeLessThanOrEqual(fetched + 1); // at most one in flight at close
  });

  it('retries sooner after a failure', async () => {
    server.routes.set('/jwks.json', () => ({ status: 500 }));
    const s = newStore({ refreshIntervalMs: 60_000, retryIntervalMs: 30 });
    await s.sync([jwksIssuer()]);
    server.routes.set('/jwks.json', () => ({ body: jwks }));
    await sleep(300);
    expect(s.ready).toBe(true);
  });

  it('never fetches an http URL to a non-loopback host', async () => {
    let calls = 0;
    const s = newStore({ fetch: (i, init) => (calls++, globalThis.fetch(i, init)) });
    await s.sync([issuer({ kind: 'jwksUri', uri: 'http://auth.example.com/jwks.json' })]);
    expect(calls).toBe(0);
    expect(refreshes).toEqual([[ISSUER, 'failure', expect.stringContaining('must be an https URL')]]);
  });

  it('a kid that names a key of another type is bad_signature, without a refetch', async () => {
    const s = newStore();
    await s.sync([jwksIssuer()]);
    clock += 1_000;
    const got = await s.resolve(ISSUER, 'ec-1', 'RS256');
    expect(got).toEqual({
      ok: false,
      reason: 'bad_signature',
      description:
        'kid "ec-1" names a key that cannot have signed this token: a EC P-256 key cannot verify RS256',
    });
    expect(server.count('/jwks.json')).toBe(1);
  });

  it('a path-traversal kid never reaches a URL: it just does not match', async () => {
    const s = newStore();
    await s.sync([jwksIssuer()]);
    clock += 1_000;
    const got = await s.resolve(ISSUER, '../../etc/passwd', 'RS256');
    expect(got).toEqual({
      ok: false,
      reason: 'unknown_key',
      description: 'no key with the kid of the token among the keys of its issuer',
    });
    expect(server.requests).toEqual(['/jwks.json', '/jwks.json']);
  });

  it('without kid: the one usable key for the alg, or unknown_key when there are several', async () => {
    const s = newStore();
    await s.sync([jwksIssuer()]);
    expect(await s.resolve(ISSUER, undefined, 'RS256')).toMatchObject({ ok: true });
    jwks = { keys: [k1.jwk, k2.jwk] };
    await s.refreshAll();
    expect(await s.resolve(ISSUER, undefined, 'RS256')).toEqual({
      ok: false,
      reason: 'unknown_key',
      description: 'the token has no kid and 2 keys of its issuer fit RS256',
    });
  });

  it('an issuer it does not serve is unknown_key', async () => {
    const s = newStore();
    await s.sync([jwksIssuer()]);
    expect(await s.resolve('https://other.example/', 'k1', 'RS256')).toMatchObject({
      ok: false,
      reason: 'unknown_key',
    });
  });
});

describe('KeyStore with OIDC discovery', () => {
  const discovering = (iss: string): CompiledIssuer =>
    issuer({ kind: 'discovery', issuer: iss }, { issuer: iss });

  it('finds jwks_uri through the discovery document (trailing slash of the issuer dropped)', async () => {
    const iss = `${server.origin}/realms/shop/`;
    server.routes.set('/realms/shop/.well-known/openid-configuration', () => ({
      body: { issuer: iss, jwks_uri: `${server.origin}/jwks.json` },
    }));
    const s = newStore();
    await s.sync([discovering(iss)]);
    expect(s.ready).toBe(true);
    expect(await s.resolve(iss, 'k1', 'RS256')).toMatchObject({ ok: true });
  });

  it('fails when the document is for another issuer', async () => {
    const iss = `${server.origin}/realms/shop`;
    server.routes.set('/realms/shop/.well-known/openid-configuration', () => ({
      body: { issuer: `${server.origin}/realms/evil`, jwks_uri: `${server.origin}/jwks.json` },
    }));
    const s = newStore();
    await s.sync([discovering(iss)]);
    expect(s.ready).toBe(false);
    expect(refreshes).toEqual([[iss, 'failure', expect.stringContaining('is for another issuer')]]);
    expect(server.count('/jwks.json')).toBe(0);
  });

  it('fails when jwks_uri breaks the https rule', async () => {
    const iss = `${server.origin}/realms/shop`;
    server.routes.set('/realms/shop/.well-known/openid-configuration', () => ({
      body: { issuer: iss, jwks_uri: 'http://evil.example/jwks.json' },
    }));
    const s = newStore();
    await s.sync([discovering(iss)]);
    expect(refreshes).toEqual([[iss, 'failure', expect.stringContaining('must be an https URL')]]);
  });
});

describe('KeyStore.sync', () => {
  it('serves inline keys without any network', async () => {
    let calls = 0;
    const s = newStore({ fetch: (i, init) => (calls++, globalThis.fetch(i, init)) });
    await s.sync([issuer({ kind: 'inline', keys: [k1.jwk] })]);
    expect(s.ready).toBe(true);
    expect(await s.resolve(ISSUER, 'k1', 'RS256')).toMatchObject({ ok: true });
    expect(await s.resolve(ISSUER, 'k2', 'RS256')).toMatchObject({ ok: false, reason: 'unknown_key' });
    expect(calls).toBe(0);
    expect(refreshes).toEqual([]);
    expect(s.publicKeys(ISSUER)).toEqual([k1.jwk]);
  });

  it('keeps an unchanged source across a reload, replaces a changed one, drops a removed one', async () => {
    const s = newStore();
    await s.sync([jwksIssuer()]);
    await s.sync([jwksIssuer()]); // same source: no new load
    expect(server.count('/jwks.json')).toBe(1);
    const version = s.version;
    await s.sync([issuer({ kind: 'inline', keys: [k2.jwk] })]);
    expect(s.version).toBeGreaterThan(version);
    expect(await s.resolve(ISSUER, 'k1', 'RS256')).toMatchObject({ ok: false });
    expect(await s.resolve(ISSUER, 'k2', 'RS256')).toMatchObject({ ok: true });
    await s.sync([]);
    expect(s.ready).toBe(false);
    expect(await s.resolve(ISSUER, 'k2', 'RS256')).toMatchObject({ ok: false, reason: 'unknown_key' });
  });

  it('a resolve during the first load waits for it instead of failing', async () => {
    const s = newStore();
    const loading = s.sync([jwksIssuer()]);
    expect(await s.resolve(ISSUER, 'k1', 'RS256')).toMatchObject({ ok: true });
    await loading;
    expect(server.count('/jwks.json')).toBe(1);
  });
});
