import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  encodeServerMessage,
  parseServerMessage,
  type ServerMessage,
} from '../../../src/distribution/protocol.js';

const text = fc.string({ minLength: 1, maxLength: 12, unit: 'binary' });
const revocation = fc.record({
  apiVersion: fc.constant('tokenwarden.dev/v1alpha1'),
  kind: fc.constant('TokenRevocation'),
  metadata: fc.record({ name: text, namespace: text }),
  spec: fc.record({ tokens: fc.array(fc.record({ jti: text }), { maxLength: 2 }) }),
});
const head = { session: text, generation: fc.nat(), version: text };
const messageArb: fc.Arbitrary<ServerMessage> = fc.oneof(
  fc.record({ type: fc.constant('heartbeat' as const), at: fc.nat() }),
  fc.record({
    type: fc.constant('snapshot' as const),
    ...head,
    config: fc.record({
      policy: fc.record({ metadata: fc.record({ name: text }) }),
      keys: fc.dictionary(text, fc.record({ keys: fc.constant([]) }), { maxKeys: 2 }),
      revocations: fc.array(revocation, { maxLength: 2 }),
    }),
  }) as unknown as fc.Arbitrary<ServerMessage>,
  fc.record(
    {
      type: fc.constant('delta' as const),
      ...head,
      base: text,
      revocationsUpserted: fc.array(revocation, { maxLength: 2 }),
      revocationsRemoved: fc.array(text, { maxLength: 2 }),
    },
    { requiredKeys: ['type', 'session', 'generation', 'version', 'base'] },
  ) as unknown as fc.Arbitrary<ServerMessage>,
);

describe('stream framing', () => {
  it('reads back every message it writes, one line each', () => {
    fc.assert(
      fc.property(messageArb, (m) => {
        const line = encodeServerMessage(m);
        expect(line.endsWith('\n')).toBe(true);
        expect(line.slice(0, -1)).not.toContain('\n');
        expect(parseServerMessage(line.slice(0, -1))).toEqual({ ok: true, value: m });
      }),
    );
  });
});
