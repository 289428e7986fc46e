import { afterEach, describe, expect, it } from 'vitest';
import { SharedKeys } from '../../../../src/operator/policy/keys.js';
import type { CompiledIssuer } from '../../../../src/policy/types.js';
import { startServer, type TestServer } from '../../keys/server.js';
import { publicJwk } from '../fixtures.js';

const issuer = (iss: string, uri: string): CompiledIssuer => ({
  issuer: iss,
  audiences: new Set(['a']),
  algorithms: new Set(['ES256']),
  keySource: { kind: 'jwksUri', uri },
});

describe('SharedKeys', () => {
  let server: TestServer | undefined;
  let keys: SharedKeys | undefined;
  afterEach(async () => {
    keys?.close();
    await server?.close();
  });

  it('fetches a key source once for every policy that uses it', async () => {
    server = await startServer();
    const jwk = await publicJwk();
    server.routes.set('/jwks', () => ({ body: { keys: [jwk] } }));
    keys = new SharedKeys();
    const i = issuer('https://idp.example/', `${server.origin}/jwks`);
    const results = await Promise.all([
      keys.ensure('ns/a', [i]),
      keys.ensure('ns/b', [i]),
      keys.ensure('ns/c', [i]),
    ]);
    expect(results).toEqual([[], [], []]);
    expect(server.count('/jwks')).toBe(1);
    expect(keys.size()).toBe(1);
  });

  it('reports the issuer and the failure when the source is down', async () => {
    keys = new SharedKeys({ timeoutMs: 2000 });
    const problems = await keys.ensure('ns/a', [issuer('https://idp.example/', 'http://127.0.0.1:1/jwks')]);
    expect(problems).toHaveLength(1);
    expect(problems[0]?.issuer).toBe('https://idp.example/');
    expect(problems[0]?.message).toContain('http://127.0.0.1:1/jwks');
  });

  it('closes a source once no policy uses it', async () => {
    server = await startServer();
    const jwk = await publicJwk();
    server.routes.set('/one', () => ({ body: { keys: [jwk] } }));
    server.routes.set('/two', () => ({ body: { keys: [jwk] } }));
    keys = new SharedKeys();
    await keys.ensure('ns/a', [issuer('https://idp.example/', `${server.origin}/one`)]);
    await keys.ensure('ns/b', [issuer('https://idp.example/', `${server.origin}/one`)]);
    // Policy a moves to another source: /one stays for b.
    await keys.ensure('ns/a', [issuer('https://idp.example/', `${server.origin}/two`)]);
    expect(keys.size()).toBe(2);
    keys.forget('ns/b');
    expect(keys.size()).toBe(1);
    keys.forget('ns/a');
    expect(keys.size()).toBe(0);
  });
});
