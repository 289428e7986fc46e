import type { IncomingHttpHeaders } from 'node:http';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  HOP_BY_HOP,
  downstreamHeaders,
  smugglingShape,
  upstreamHeaders,
} from '../../../src/proxy/headers.js';

const NONE: ReadonlySet<string> = new Set();

describe('upstreamHeaders: what the app receives', () => {
  it.each([...HOP_BY_HOP])('the hop-by-hop header %s is not forwarded', (name) => {
    const out = upstreamHeaders({ [name]: 'x', 'x-kept': 'yes' }, NONE, [], '10.0.0.1');
    expect(out[name]).toBeUndefined();
    expect(out['x-kept']).toBe('yes');
  });

  it.each([
    { name: 'one named header', connection: 'x-secret', gone: ['x-secret'] },
    {
      name: 'several, mixed case and spaces',
      connection: 'keep-alive ,  X-Secret,X-Other ',
      gone: ['x-secret', 'x-other'],
    },
    { name: 'close with a named header', connection: 'close, x-secret', gone: ['x-secret'] },
    { name: 'Close in capitals with a named header', connection: 'Close, x-secret', gone: ['x-secret'] },
  ])('headers named by Connection ($name) are not forwarded', ({ connection, gone }) => {
    const incoming: IncomingHttpHeaders = { connection, 'x-secret': '1', 'x-other': '2', 'x-end': 'kept' };
    const out = upstreamHeaders(incoming, NONE, [], undefined);
    for (const name of gone) expect(out[name], name).toBeUndefined();
    expect(out['x-end']).toBe('kept');
    expect(out.connection).toBeUndefined();
  });

  it('a plain "Connection: keep-alive" removes nothing but itself', () => {
    const out = upstreamHeaders({ connection: 'keep-alive', 'x-a': '1' }, NONE, [], undefined);
    expect(out).toEqual({ 'x-a': '1', 'x-forwarded-proto': 'http' });
  });

  it('a claim header sent by the client is removed even when the token has nothing to put there', () => {
    const out = upstreamHeaders(
      { 'x-auth-subject': 'user-forged' },
      new Set(['x-auth-subject']),
      [],
      undefined,
    );
    expect(out['x-auth-subject']).toBeUndefined();
  });

  it('a claim header is set from the verified claim, replacing the client copy', () => {
    const out = upstreamHeaders(
      { 'x-auth-subject': 'user-forged', 'x-auth-scope': 'admin' },
      new Set(['x-auth-subject', 'x-auth-scope']),
      [['x-auth-subject', 'user-42']],
      undefined,
    );
    expect(out['x-auth-subject']).toBe('user-42');
    expect(out['x-auth-scope']).toBeUndefined();
  });

  it('a claim header named by Connection is still set from the claim', () => {
    const out = upstreamHeaders(
      { connection: 'x-auth-subject', 'x-auth-subject': 'forged' },
      new Set(['x-auth-subject']),
      [['x-auth-subject', 'user-42']],
      undefined,
    );
    expect(out['x-auth-subject']).toBe('user-42');
  });

  // The client's X-Forwarded-For was kept and extended; from an untrusted peer
  // (the default) it is now replaced by what the sidecar saw. A trusted proxy's is extended.
  it("X-Forwarded-For is the client address from an untrusted peer; X-Forwarded-Proto is the sidecar's", () => {
    expect(upstreamHeaders({}, NONE, [], '10.0.0.1')).toMatchObject({
      'x-forwarded-for': '10.0.0.1',
      'x-forwarded-proto': 'http',
    });
    expect(
      upstreamHeaders(
        { 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https' },
        NONE,
        [],
        '10.0.0.1',
      ),
    ).toMatchObject({
      'x-forwarded-for': '10.0.0.1',
      'x-forwarded-proto': 'http',
    });
  });

  it('a trusted proxy keeps its forwarding headers, extended with its own address', () => {
    const out = upstreamHeaders(
      {
        'x-forwarded-for': '203.0.113.9',
        'x-forwarded-proto': 'https',
        forwarded: 'for=203.0.113.9',
        'x-real-ip': '203.0.113.9',
        'x-forwarded-host': 'shop.example.com',
      },
      NONE,
      [],
      '10.0.0.1',
      { trustedPeer: true },
    );
    expect(out).toMatchObject({
      'x-forwarded-for': '203.0.113.9, 10.0.0.1',
      'x-forwarded-proto': 'https',
      forwarded: 'for=203.0.113.9, for=10.0.0.1',
      'x-real-ip': '203.0.113.9',
      'x-forwarded-host': 'shop.example.com',
    });
  });

  it('an untrusted peer gets Forwarded, X-Real-IP and X-Forwarded-Host replaced by what the sidecar saw', () => {
    const out = upstreamHeaders(
      {
        host: 'orders:8080',
        forwarded: 'for=1.2.3.4;host=evil',
        'x-real-ip': '1.2.3.4',
        'x-forwarded-host': 'evil.example',
      },
      NONE,
      [],
      '::1',
    );
    expect(out).toMatchObject({
      forwarded: 'for="[::1]";host="orders:8080";proto=http',
      'x-real-ip': '::1',
      'x-forwarded-host': 'orders:8080',
    });
  });

  // `authorization: Bearer t` used to pass; a bearer token now reaches the
  // app only when verified under forwardToken (keepToken).
  it('end-to-end headers pass unchanged, repeated ones as they came', () => {
    const out = upstreamHeaders(
      {
        host: 'orders',
        'content-type': 'application/json',
        'set-cookie': ['a=1', 'b=2'],
        authorization: 'Basic dTpw',
      },
      NONE,
      [],
      undefined,
    );
    expect(out).toMatchObject({
      host: 'orders',
      'content-type': 'application/json',
      'set-cookie': ['a=1', 'b=2'],
      authorization: 'Basic dTpw',
    });
  });

  it.each(['Bearer t', 'bearer t', 'BEARER  t', 'Bearer'])(
    'a bearer token (%s) is not forwarded by default',
    (v) => {
      expect(upstreamHeaders({ authorization: v }, NONE, [], undefined).authorization).toBeUndefined();
    },
  );

  it('a verified bearer token is forwarded under forwardToken (keepToken)', () => {
    const out = upstreamHeaders({ authorization: 'Bearer t' }, NONE, [], undefined, { keepToken: true });
    expect(out.authorization).toBe('Bearer t');
  });

  it('headers with _ in their names are dropped by default', () => {
    const out = upstreamHeaders({ x_auth_subject: 'admin', x_custom: '1', 'x-ok': '2' }, NONE, [], undefined);
    expect(out.x_auth_subject).toBeUndefined();
    expect(out.x_custom).toBeUndefined();
    expect(out['x-ok']).toBe('2');
  });

  it('with allowUnderscores, only names aliasing a protected header after _ → - are dropped', () => {
    const out = upstreamHeaders(
      { x_auth_subject: 'admin', x_forwarded_for: '1.2.3.4', authorization_: 'x', x_custom: '1' },
      new Set(['x-auth-subject']),
      [['x-auth-subject', 'alice']],
      undefined,
      { allowUnderscores: true },
    );
    expect(out.x_auth_subject).toBeUndefined();
    expect(out.x_forwarded_for).toBeUndefined();
    expect(out.x_custom).toBe('1');
    expect(out['x-auth-subject']).toBe('alice');
  });

  it('Expect is not passed on: the sidecar has answered 100-continue itself (and undici refuses the header)', () => {
    const out = upstreamHeaders({ expect: '100-continue', 'content-length': '5' }, NONE, [], undefined);
    expect(out.expect).toBeUndefined();
    expect(out['content-length']).toBe('5');
  });
});

describe('upstreamHeaders, for any request head', () => {
  const name = fc.oneof(
    fc.constantFrom(...HOP_BY_HOP, 'x-auth-subject', 'X-Auth-Subject', 'x-a', 'x-b', 'host', 'content-type'),
    fc.stringMatching(/^[a-z][a-z0-9-]{0,12}$/),
  );

  it('never forwards a hop-by-hop header, a header Connection names, or a client copy of a claim header', () => {
    fc.assert(
      fc.property(
        fc.dictionary(name, fc.string({ maxLength: 8 })),
        fc.array(name, { maxLength: 4 }),
        fc.option(fc.constantFrom('user-1', 'user-2'), { nil: undefined }),
        (extra, named, sub) => {
          const incoming: IncomingHttpHeaders = {};
          for (const [k, v] of Object.entries(extra)) incoming[k.toLowerCase()] = v;
          if (named.length > 0) incoming.connection = named.join(', ');
          const stripped = new Set(['x-auth-subject']);
          const claims: [string, string][] = sub === undefined ? [] : [['x-auth-subject', sub]];
          const out = upstreamHeaders(incoming, stripped, claims, '10.0.0.1');
          for (const h of Object.keys(out)) {
            expect(HOP_BY_HOP.has(h), h).toBe(false);
            if (
              h !== 'x-forwarded-for' &&
              h !== 'x-forwarded-proto' &&
              h !== 'x-auth-subject' &&
              incoming.connection !== 'keep-alive' &&
              incoming.connection !== 'close'
            ) {
              expect(
                named.map((n) => n.toLowerCase()),
                h,
              ).not.toContain(h);
            }
          }
          expect(out['x-auth-subject']).toBe(sub);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('downstreamHeaders: what the client receives from the app', () => {
  it("hop-by-hop headers and those the app's Connection names are removed", () => {
    const out = downstreamHeaders({
      connection: 'x-private',
      'x-private': '1',
      'keep-alive': 'timeout=5',
      'transfer-encoding': 'chunked',
      'content-type': 'text/plain',
      'set-cookie': ['a=1', 'b=2'],
      'x-undefined': undefined,
    });
    expect(out).toEqual({ 'content-type': 'text/plain', 'set-cookie': ['a=1', 'b=2'] });
  });

  it('headers named by two Connection header lines of the app are both removed', () => {
    const out = downstreamHeaders({ connection: ['x-a', 'x-b'], 'x-a': '1', 'x-b': '2', 'x-c': '3' });
    expect(out).toEqual({ 'x-c': '3' });
  });
});

describe('smugglingShape', () => {
  /** rawHeaders as node gives them: name, value, name, value… */
  const raw = (...pairs: [string, string][]): string[] => pairs.flat();

  const cases: { name: string; headers: IncomingHttpHeaders; raw: string[]; refused: string | undefined }[] =
    [
      { name: 'no body headers', headers: {}, raw: [], refused: undefined },
      {
        name: 'one Content-Length',
        headers: { 'content-length': '5' },
        raw: raw(['Content-Length', '5']),
        refused: undefined,
      },
      {
        name: 'Transfer-Encoding: chunked alone',
        headers: { 'transfer-encoding': 'chunked' },
        raw: raw(['Transfer-Encoding', 'chunked']),
        refused: undefined,
      },
      {
        name: 'Transfer-Encoding spelt " Chunked "',
        headers: { 'transfer-encoding': ' Chunked ' },
        raw: raw(['transfer-encoding', ' Chunked ']),
        refused: undefined,
      },
      {
        name: 'Content-Length and Transfer-Encoding',
        headers: { 'content-length': '5', 'transfer-encoding': 'chunked' },
        raw: raw(['Content-Length', '5'], ['Transfer-Encoding', 'chunked']),
        refused: 'both Content-Length and Transfer-Encoding are present',
      },
      {
        name: 'a coding other than chunked',
        headers: { 'transfer-encoding': 'gzip' },
        raw: raw(['Transfer-Encoding', 'gzip']),
        refused: 'only Transfer-Encoding: chunked is accepted',
      },
      {
        name: 'chunked listed twice (two header lines joined)',
        headers: { 'transfer-encoding': 'chunked, chunked' },
        raw: raw(['Transfer-Encoding', 'chunked'], ['Transfer-Encoding', 'chunked']),
        refused: 'only Transfer-Encoding: chunked is accepted',
      },
      {
        name: 'gzip then chunked',
        headers: { 'transfer-encoding': 'gzip, chunked' },
        raw: raw(['Transfer-Encoding', 'gzip, chunked']),
        refused: 'only Transfer-Encoding: chunked is accepted',
      },
      {
        name: 'two equal Content-Length lines',
        headers: { 'content-length': '5' },
        raw: raw(['Content-Length', '5'], ['content-length', '5']),
        refused: undefined,
      },
      {
        name: 'two equal Content-Length lines, one padded',
        headers: { 'content-length': '5' },
        raw: raw(['Content-Length', '5'], ['CONTENT-LENGTH', ' 5 ']),
        refused: undefined,
      },
      {
        name: 'two differing Content-Length lines',
        headers: { 'content-length': '5' },
        raw: raw(['Content-Length', '5'], ['content-length', '6']),
        refused: 'Content-Length values differ',
      },
      {
        name: 'the same length spelt differently (05)',
        headers: { 'content-length': '5' },
        raw: raw(['Content-Length', '5'], ['Content-Length', '05']),
        refused: 'Content-Length values differ',
      },
    ];

  it.each(cases)('$name → $refused', ({ headers, raw: rawHeaders, refused }) => {
    expect(smugglingShape(headers, rawHeaders)).toBe(refused);
  });
});
