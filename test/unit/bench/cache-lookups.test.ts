import { describe, expect, it } from 'vitest';
import { lookupsBetween, parseCacheLookups } from '../../../bench/cache-lookups.js';

describe('verified-token cache lookups from /metrics', () => {
  it.each([
    {
      name: 'reads the hit and miss series',
      text: [
        '# HELP tokenwarden_verified_token_cache_lookups_total Lookups.',
        '# TYPE tokenwarden_verified_token_cache_lookups_total counter',
        'tokenwarden_verified_token_cache_lookups_total{result="hit"} 1200',
        'tokenwarden_verified_token_cache_lookups_total{result="miss"} 34',
      ].join('\n'),
      expected: { hit: 1200, miss: 34 },
    },
    {
      name: 'sums series that carry other labels too',
      text: [
        'tokenwarden_verified_token_cache_lookups_total{policy="a",result="hit"} 2',
        'tokenwarden_verified_token_cache_lookups_total{result="hit",policy="b"} 3',
      ].join('\n'),
      expected: { hit: 5, miss: 0 },
    },
    {
      name: 'is unknown when the counter is absent',
      text: 'tokenwarden_verified_token_cache_entries 10\ntokenwarden_verified_token_cache_bytes 100',
      expected: undefined,
    },
    {
      name: 'ignores a similarly named metric',
      text: 'tokenwarden_verified_token_cache_lookups_total_created{result="hit"} 17',
      expected: undefined,
    },
  ])('$name', ({ text, expected }) => {
    expect(parseCacheLookups(text)).toEqual(expected);
  });

  it('counts lookups between two readings, unknown if either is', () => {
    expect(lookupsBetween({ hit: 10, miss: 5 }, { hit: 15, miss: 105 })).toEqual({ hit: 5, miss: 100 });
    expect(lookupsBetween(undefined, { hit: 1, miss: 1 })).toBeUndefined();
  });
});
