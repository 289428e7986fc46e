import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { diff, escapePointer, type JsonValue } from '../../../../src/operator/webhook/patch.js';
import { applyPatch } from './json-patch.js';

const json: fc.Arbitrary<JsonValue> = fc.letrec<{ value: JsonValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.string({ maxLength: 4 }),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.constantFrom('a', 'b', 'a/b', '~c', ''), tie('value'), { maxKeys: 4 }),
  ),
})).value;

describe('diff', () => {
  it('yields a patch that turns the first document into the second', () => {
    fc.assert(
      fc.property(json, json, (a, b) => {
        expect(applyPatch(a, diff(a, b))).toEqual(b);
      }),
      { numRuns: 2000 },
    );
  });

  it('yields no operation for equal documents', () => {
    fc.assert(
      fc.property(json, (a) => {
        expect(diff(a, structuredClone(a))).toEqual([]);
      }),
    );
  });

  it('escapes ~ and / in member names (annotation keys)', () => {
    expect(escapePointer('tokenwarden.dev/injected')).toBe('tokenwarden.dev~1injected');
    expect(escapePointer('a~/b')).toBe('a~0~1b');
    expect(diff({ m: {} }, { m: { 'x/y': '1' } })).toEqual([{ op: 'add', path: '/m/x~1y', value: '1' }]);
  });

  it('replaces an array whose length changed as a whole', () => {
    expect(diff({ l: [1, 2] }, { l: [0, 1, 2] })).toEqual([{ op: 'replace', path: '/l', value: [0, 1, 2] }]);
  });
});
