import { describe, expect, it } from 'vitest';
import type { Authenticated } from '../../../../src/operator/stream/auth.js';
import { ReviewCache, tokenExpiryMs, tokenKey } from '../../../../src/operator/stream/review-cache.js';

const jwt = (payload: object): string =>
  `eyJhbGciOiJSUzI1NiJ9.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.c2ln`;
const OK: Authenticated = {
  ok: true,
  pod: { namespace: 'ns', name: 'p', uid: 'u' },
  serviceAccount: 'default',
};
const NO: Authenticated = { ok: false, status: 401, reason: 'token_invalid', message: 'no' };

function cache(ttlMs = 60_000, maxEntries = 10) {
  let now = 1_000_000;
  let reviews = 0;
  const c = new ReviewCache({ ttlMs, maxEntries, now: () => now });
  const review = (answer: Authenticated) => (t: string) =>
    c.review(t, () => (reviews++, Promise.resolve(answer)));
  return { c, review, reviews: () => reviews, advance: (ms: number) => (now += ms) };
}

describe('TokenReview cache', () => {
  it('reads exp from a JWT, nothing from anything else', () => {
    expect(tokenExpiryMs(jwt({ exp: 2000 }))).toBe(2_000_000);
    for (const t of ['garbage', 'a.b.c', jwt({ exp: '2000' }), jwt({}), 'a.b', jwt({ exp: 1 }) + '.d'])
      expect(tokenExpiryMs(t)).toBeUndefined();
  });

  it('keys by a hash, never the token', () => {
    const t = jwt({ exp: 5000 });
    expect(tokenKey(t)).not.toContain(t.split('.')[1]);
    expect(tokenKey(t)).toHaveLength(43);
  });

  it('reuses a positive answer for the TTL, never past exp', async () => {
    const { c, review, reviews, advance } = cache(60_000);
    const t = jwt({ exp: 1_030 }); // 30 s after "now"
    await review(OK)(t);
    expect(c.get(t)).toEqual(OK);
    advance(29_999);
    expect(c.get(t)).toEqual(OK);
    advance(1);
    expect(c.get(t)).toBeUndefined();
    expect(reviews()).toBe(1);
  });

  it('never caches a refusal, nor a token without exp', async () => {
    const { c, review } = cache();
    const t = jwt({ exp: 9_999 });
    await review(NO)(t);
    expect(c.get(t)).toBeUndefined();
    await review(OK)('opaque-token');
    expect(c.size).toBe(0);
  });

  it('shares one review between concurrent callers and stays bounded', async () => {
    const { c, review, reviews } = cache(60_000, 3);
    const t = jwt({ exp: 9_999 });
    await Promise.all([review(OK)(t), review(OK)(t), review(OK)(t)]);
    expect(reviews()).toBe(1);
    for (let i = 0; i < 10; i++) await review(OK)(jwt({ exp: 9_999, i }));
    expect(c.size).toBe(3);
  });
});
