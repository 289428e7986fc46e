import { describe, expect, it } from 'vitest';
import type { StreamConfig } from '../../../src/distribution/protocol.js';
import { SNAPSHOT_FORMAT, decodeSnapshot, encodeSnapshot } from '../../../src/distribution/snapshot.js';

const CONFIG: StreamConfig = {
  policy: {
    apiVersion: 'tokenwarden.dev/v1alpha1',
    kind: 'TokenPolicy',
    metadata: { name: 'orders-api', namespace: 'shop', generation: 3 },
    spec: { issuers: [{ issuer: 'https://auth.example.com/', audiences: ['orders'] }] },
  },
  keys: { 'https://auth.example.com/': { keys: [{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y', kid: 'k1' }] } },
  revocations: [
    {
      apiVersion: 'tokenwarden.dev/v1alpha1',
      kind: 'TokenRevocation',
      metadata: { name: 'leak-ünïcode', namespace: 'shop' },
      spec: { tokens: [{ jti: 'j-1' }, { subject: 'user "quoted" ,"config":' }] },
    },
  ],
};
const AT = new Date('2026-12-02T10:00:00.000Z');
const TEXT = encodeSnapshot('v-abc', CONFIG, AT);

describe('snapshot file', () => {
  it('round-trips: what is written decodes to the same config and version', () => {
    const d = decodeSnapshot(TEXT);
    expect(d).toEqual({
      ok: true,
      value: {
        format: SNAPSHOT_FORMAT,
        version: 'v-abc',
        savedAt: AT.toISOString(),
        sha256: expect.any(String),
        config: CONFIG,
      },
    });
    expect(TEXT.endsWith('}\n')).toBe(true);
  });

  it('is refused when truncated anywhere', () => {
    const refusedAt: number[] = [];
    for (let cut = 0; cut < TEXT.length - 1; cut += 7)
      if (!decodeSnapshot(TEXT.slice(0, cut)).ok) refusedAt.push(cut);
    expect(refusedAt.length).toBe(Math.ceil((TEXT.length - 1) / 7));
  });

  const corrupt: { name: string; text: string; error: RegExp }[] = [
    { name: 'empty', text: '', error: /empty/ },
    { name: 'not JSON', text: 'garbage\n', error: /not complete JSON/ },
    { name: 'a JSON array', text: '[]\n', error: /not a JSON object/ },
    { name: 'another format', text: TEXT.replace(SNAPSHOT_FORMAT, 'v0'), error: /unknown format/ },
    { name: 'a revocation edited', text: TEXT.replace('"j-1"', '"j-2"'), error: /checksum mismatch/ },
    { name: 'a revocation removed', text: TEXT.replace('{"jti":"j-1"},', ''), error: /checksum mismatch/ },
    { name: 'the checksum edited', text: TEXT.replace(/"sha256":"[0-9a-f]/, '"sha256":"z'), error: /sha256/ },
    { name: 'no version', text: TEXT.replace('"version":"v-abc"', '"version":""'), error: /version/ },
    {
      name: 'config without revocations (checksum recomputed)',
      text: encodeSnapshot('v', { ...CONFIG, revocations: undefined } as unknown as StreamConfig, AT),
      error: /policy, keys and revocations/,
    },
  ];
  it.each(corrupt)('is refused: $name', ({ text, error }) => {
    const d = decodeSnapshot(text);
    expect(d.ok).toBe(false);
    if (!d.ok) expect(d.error).toMatch(error);
  });
});
