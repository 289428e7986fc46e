import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeServerMessage, parseServerMessage } from '../../../../src/distribution/protocol.js';
import type { BundleChange } from '../../../../src/operator/stream/policy-feed.js';
import { deltaBody, lineHead, snapshotBody } from '../../../../src/operator/stream/encoded.js';

const change: BundleChange = {
  base: 'v1',
  version: 'v2',
  revocationsUpserted: [],
  revocationsRemoved: ['r-1'],
};

describe('one serialisation per version', () => {
  it('head + shared body is the message encodeServerMessage writes', () => {
    fc.assert(
      fc.property(fc.base64String({ minLength: 4, maxLength: 32 }), fc.nat(), (id, generation) => {
        const session = id.replace(/[+/=]/g, '_') || 'x';
        const line = lineHead('delta', session) + deltaBody({ ...change }, generation).toString('utf8');
        const parsed = parseServerMessage(line);
        expect(parsed.ok).toBe(true);
        expect(JSON.parse(line)).toEqual(
          JSON.parse(encodeServerMessage({ type: 'delta', session, generation, ...change })),
        );
        expect(line.endsWith('}\n')).toBe(true);
      }),
    );
  });

  it('shares one Buffer between sessions and re-encodes for a new generation', () => {
    const a = deltaBody(change, 3);
    expect(deltaBody(change, 3)).toBe(a);
    expect(deltaBody(change, 4)).not.toBe(a);
  });

  it('builds a snapshot once per generation', () => {
    const owner = {};
    let built = 0;
    const config = () => (built++, { policy: {} as never, keys: {}, revocations: [] });
    const a = snapshotBody(owner, 1, 'v1', config);
    expect(snapshotBody(owner, 1, 'v1', config)).toBe(a);
    expect(built).toBe(1);
    snapshotBody(owner, 2, 'v2', config);
    expect(built).toBe(2);
    const line = lineHead('snapshot', 's1') + a.toString('utf8');
    expect(parseServerMessage(line)).toMatchObject({
      ok: true,
      value: { type: 'snapshot', session: 's1', generation: 1 },
    });
  });
});
