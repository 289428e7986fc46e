import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MAX_STREAM_ACK_BYTES,
  encodeServerMessage,
  encodeStreamAck,
  parseServerMessage,
  parseStreamAck,
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

const V = 'AAAAAAAAAAAAAAAAAAAAAA';
const ackArb = fc.record({
  generation: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  version: fc.stringMatching(/^[A-Za-z0-9_-]{1,128}$/),
});

describe('ack lines (the request body of POST /v1/config)', () => {
  it('reads back every ack it writes, within MAX_STREAM_ACK_BYTES', () => {
    fc.assert(
      fc.property(ackArb, (ack) => {
        const line = encodeStreamAck(ack);
        expect(Buffer.byteLength(line)).toBeLessThanOrEqual(MAX_STREAM_ACK_BYTES);
        expect(line.slice(0, -1)).not.toContain('\n');
        expect(parseStreamAck(line.slice(0, -1))).toEqual({ ok: true, value: { type: 'ack', ...ack } });
      }),
    );
  });

  it("refuses every line that is not some ack's encoding", () => {
    const near = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 300 }),
      fc.json(),
      // Ack-shaped objects with any keys and values, in any order.
      fc
        .dictionary(
          fc.constantFrom('type', 'generation', 'version', 'session', 'Type'),
          fc.oneof(
            fc.constant('ack'),
            fc.integer(),
            fc.double(),
            fc.string(),
            ackArb.map((a) => a.version),
          ),
        )
        .map((o) => JSON.stringify(o)),
      // Encodings with one character changed, dropped or added.
      fc
        .tuple(ackArb, fc.nat(), fc.string({ unit: 'binary', maxLength: 2 }), fc.boolean())
        .map(([a, at, insert, drop]) => {
          const line = encodeStreamAck(a).slice(0, -1);
          const i = at % line.length;
          return line.slice(0, i) + insert + line.slice(drop ? i + 1 : i);
        }),
    );
    fc.assert(
      fc.property(near, (line) => {
        const parsed = parseStreamAck(line);
        if (parsed.ok) expect(encodeStreamAck(parsed.value)).toBe(`${line}\n`);
        else expect(parsed.error).toMatch(/^(line|ack|type|generation|version|[A-Za-z0-9_]{1,64}): /);
      }),
      { numRuns: 2_000 },
    );
  });

  const refused = [
    { name: 'not JSON', line: '{"type":"ack"', error: 'line: not JSON' },
    { name: 'an array', line: '[1]', error: 'ack: must be an object' },
    {
      name: 'a session id (the connection is the session)',
      line: `{"type":"ack","session":"s","generation":1,"version":"${V}"}`,
      error: 'session: unknown field',
    },
    {
      name: 'another type',
      line: `{"type":"nack","generation":1,"version":"${V}"}`,
      error: 'type: must be "ack"',
    },
    {
      name: 'a negative generation',
      line: `{"type":"ack","generation":-1,"version":"${V}"}`,
      error: 'generation: must be a non-negative integer',
    },
    {
      name: 'a generation past 2^53',
      line: `{"type":"ack","generation":9999999999999999,"version":"${V}"}`,
      error: 'generation: must be a non-negative integer',
    },
    {
      name: 'a generation as a string',
      line: `{"type":"ack","generation":"1","version":"${V}"}`,
      error: 'generation: must be a non-negative integer',
    },
    {
      name: 'an empty version',
      line: '{"type":"ack","generation":1,"version":""}',
      error: 'version: must be 1 to 128 characters',
    },
    {
      name: 'a version of 129 characters',
      line: `{"type":"ack","generation":1,"version":"${'A'.repeat(129)}"}`,
      error: 'version: must be 1 to 128 characters',
    },
    {
      name: 'a version outside base64url',
      line: '{"type":"ack","generation":1,"version":"a+b/"}',
      error: 'version: must be base64url',
    },
    {
      name: 'the fields in another order',
      line: `{"generation":1,"type":"ack","version":"${V}"}`,
      error: expect.stringMatching(/^line: not in the form/),
    },
    {
      name: 'a space',
      line: `{"type":"ack", "generation":1,"version":"${V}"}`,
      error: expect.stringMatching(/^line: not in the form/),
    },
    {
      name: 'a line over the bound',
      line: `{"type":"ack","generation":1,"version":"${V}","pad":"${'x'.repeat(MAX_STREAM_ACK_BYTES)}"}`,
      error: `line: longer than ${MAX_STREAM_ACK_BYTES} bytes`,
    },
  ];
  it.each(refused)('refuses $name', ({ line, error }) => {
    expect(parseStreamAck(line)).toEqual({ ok: false, error });
  });

  it('will not write an ack it could not read back', () => {
    expect(() => encodeStreamAck({ generation: 1, version: 'a"b' })).toThrow(/version: must be base64url/);
    expect(() => encodeStreamAck({ generation: 1.5, version: V })).toThrow(/generation/);
  });
});
