import { describe, expect, it } from 'vitest';
import { headProblem } from '../../../src/proxy/http-guards.js';

function raw(headers: [string, string][]): { parsed: Record<string, string>; raw: string[] } {
  const parsed: Record<string, string> = {};
  for (const [k, v] of headers) parsed[k.toLowerCase()] ??= v;
  return { parsed, raw: headers.flat() };
}

describe('headProblem', () => {
  it.each([
    {
      name: 'two Host headers',
      method: 'GET',
      h: [
        ['Host', 'a'],
        ['host', 'b'],
      ],
      status: 400,
    },
    { name: 'a Host with a slash', method: 'GET', h: [['Host', 'a/b']], status: 400 },
    { name: 'a Host with a query', method: 'GET', h: [['Host', 'a?b']], status: 400 },
    { name: 'a Host with userinfo', method: 'GET', h: [['Host', 'user@a']], status: 400 },
    {
      name: 'a GET with a body',
      method: 'GET',
      h: [
        ['Host', 'a'],
        ['Content-Length', '3'],
      ],
      status: 400,
    },
    {
      name: 'a HEAD with a chunked body',
      method: 'HEAD',
      h: [
        ['Host', 'a'],
        ['Transfer-Encoding', 'chunked'],
      ],
      status: 400,
    },
    {
      name: 'more header fields than the limit',
      method: 'GET',
      h: [['Host', 'a'], ...Array.from({ length: 5 }, (_, i) => [`x-${i}`, '1'])],
      status: 431,
    },
  ] as { name: string; method: string; h: [string, string][]; status: number }[])(
    'refuses $name',
    ({ method, h, status }) => {
      const { parsed, raw: r } = raw(h);
      expect(headProblem(method, parsed, r, 5)?.status).toBe(status);
    },
  );

  it.each([
    {
      name: 'a GET with Content-Length 0',
      method: 'GET',
      h: [
        ['Host', 'a'],
        ['Content-Length', '0'],
      ],
    },
    {
      name: 'a POST with a body',
      method: 'POST',
      h: [
        ['Host', 'a:8080'],
        ['Content-Length', '3'],
      ],
    },
    { name: 'an IPv6 Host', method: 'GET', h: [['Host', '[::1]:15080']] },
    {
      name: 'exactly the limit',
      method: 'GET',
      h: [['Host', 'a'], ...Array.from({ length: 4 }, (_, i) => [`x-${i}`, '1'])],
    },
  ] as { name: string; method: string; h: [string, string][] }[])('accepts $name', ({ method, h }) => {
    const { parsed, raw: r } = raw(h);
    expect(headProblem(method, parsed, r, 5)).toBeUndefined();
  });
});
