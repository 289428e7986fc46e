import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAppProbes } from '../../../src/core/app-probes.js';

const probe = { path: '/healthz', port: 8080, scheme: 'HTTP', headers: [], timeoutSeconds: 1 };
const parse = (v: unknown) => () => parseAppProbes(JSON.stringify(v));

describe('parseAppProbes', () => {
  it('reads a valid probe', () => {
    expect(parseAppProbes(JSON.stringify({ 'app/readyz': probe })).get('app/readyz')).toEqual(probe);
  });

  it('refuses each bad field by name', () => {
    expect(() => parseAppProbes('{')).toThrow(/not JSON/);
    expect(parse([])).toThrow(/JSON object/);
    expect(parse({ 'app/other': probe })).toThrow(/key "app\/other"/);
    expect(parse({ 'a/b/readyz': probe })).toThrow(/key/);
    expect(parse({ 'app/readyz': { ...probe, path: 'x' } })).toThrow(/\.path/);
    expect(parse({ 'app/readyz': { ...probe, path: '/a b' } })).toThrow(/\.path/);
    expect(parse({ 'app/readyz': { ...probe, port: 15090 } })).toThrow(/\.port must not be the sidecar/);
    expect(parse({ 'app/readyz': { ...probe, port: 0 } })).toThrow(/\.port/);
    expect(parse({ 'app/readyz': { ...probe, scheme: 'FTP' } })).toThrow(/\.scheme/);
    expect(parse({ 'app/readyz': { ...probe, timeoutSeconds: 0 } })).toThrow(/timeoutSeconds/);
    expect(parse({ 'app/readyz': { ...probe, headers: [{ name: 'a b', value: '' }] } })).toThrow(
      /headers\[0\]\.name/,
    );
    expect(parse({ 'app/readyz': { ...probe, headers: [{ name: 'a', value: 'x\r\nHost: evil' }] } })).toThrow(
      /headers\[0\]\.value/,
    );
  });

  it('never accepts a path or header value with CR, LF or NUL (property)', () => {
    fc.assert(
      fc.property(fc.string(), fc.constantFrom('\r', '\n', '\0'), fc.string(), (a, bad, b) => {
        const path = `/${a}${bad}${b}`;
        expect(parse({ 'app/livez': { ...probe, path } })).toThrow();
        expect(
          parse({ 'app/livez': { ...probe, headers: [{ name: 'x', value: `${a}${bad}${b}` }] } }),
        ).toThrow();
      }),
    );
  });
});
