/**
 * A flood cannot stall the operator: the REAL operator and a REAL sidecar against the real
 * kube-apiserver + etcd (`npm run build` first). While hundreds of streams with garbage tokens
 * arrive at once, a pod opens more streams than it may, and one authenticated stream never
 * reads, a TokenRevocation still reaches the legitimate sidecar within the usual bound, and
 * every refusal is counted in tokenwarden_operator_stream_errors_total{reason}.
 */
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect } from 'node:tls';
import { describe, expect, it } from 'vitest';
import {
  createRevocation,
  lastOperator,
  podTokenFiles,
  servePort,
  untilEvery,
  userToken,
} from './in-cluster-world.js';
import { useInCluster } from './in-cluster-hooks.js';
import { jws } from '../support/tokens.js';
import { openStream } from './stream-support.js';

const BOUND_MS = 5_000;
const GARBAGE = 300;

async function refusals(): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${lastOperator.metricsPort}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^tokenwarden_operator_stream_errors_total\{reason="([a-z_]+)"\} (\d+)/gm))
    out[m[1] as string] = Number(m[2]);
  return out;
}

/** An authenticated stream whose reader never reads (TLS socket paused after the request). */
function neverReads(token: string): Promise<() => void> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: '127.0.0.1',
      port: servePort,
      ca: lastOperator.caPem,
      servername: '127.0.0.1',
    });
    socket.once('secureConnect', () => {
      socket.write(`GET /v1/config HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${token}\r\n\r\n`);
      socket.pause();
      resolve(() => socket.destroy());
    });
    socket.once('error', reject);
  });
}

const world = useInCluster({ operator: 'operator-flood', sidecars: 1 });

const floodKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
/**
 * Half not even a JWT (refused by the operator on its own), half well-formed JWTs of another
 * issuer: the operator cannot decide those with the service-account keys, so each would cost a
 * TokenReview, and the admission limits must shed them.
 */
const garbageToken = (i: number): string =>
  i % 2 === 0
    ? `garbage.${i}.token`
    : jws(
        { alg: 'ES256', kid: `flood-${i}` },
        {
          iss: 'https://flood.example',
          aud: ['tokenwarden'],
          sub: `flood-${i}`,
          exp: Math.floor(Date.now() / 1000) + 600,
        },
        floodKey,
      );

describe('flood: garbage tokens, greedy pods and a reader that never reads', () => {
  it('sheds and counts every refusal while a revocation still reaches the legitimate sidecar', async () => {
    const before = await refusals();
    const closeSlow = await neverReads(readFileSync(podTokenFiles[1] as string, 'utf8').trim());

    // Let the operator open it before pod 1 asks for more (its first message is then pending).
    await new Promise((r) => setTimeout(r, 1_000));
    // One pod may hold 3 streams; the slow one is the first of pod 1's.
    const pod1 = readFileSync(podTokenFiles[1] as string, 'utf8').trim();
    const extra = [];
    for (let i = 0; i < 3; i++) extra.push(await openStream(servePort, lastOperator.caPem, pod1));
    expect(extra.map((s) => s.status)).toEqual([200, 200, 429]);
    expect(extra[2]?.refusal?.reason).toBe('pod_session_limit');

    const garbage = Promise.all(
      Array.from({ length: GARBAGE }, (_, i) =>
        openStream(servePort, lastOperator.caPem, garbageToken(i)).then((s) => (s.close(), s.status)),
      ),
    );
    const token = await userToken('jti-flood');
    expect(await untilEvery([world.sidecar], '/orders', token, 200, Date.now())).toHaveLength(1);
    const t0 = Date.now();
    await createRevocation('rev-flood', 'jti-flood');
    const took = await untilEvery([world.sidecar], '/orders', token, 401, t0);
    console.log(`[flood] revocation enforced after ${took[0]} ms during the flood`);
    expect(took[0]).toBeLessThan(BOUND_MS);

    const statuses = await garbage;
    // Refused, never served: 401 (reviewed) or 503 (shed before a review).
    expect(statuses.every((s) => s === 401 || s === 503)).toBe(true);
    const after = await refusals();
    const delta = (r: string) => (after[r] ?? 0) - (before[r] ?? 0);
    const shed = delta('review_rate_limited') + delta('reviews_saturated');
    expect(delta('token_invalid') + shed).toBe(GARBAGE);
    expect(shed).toBe(statuses.filter((s) => s === 503).length);
    // Only the foreign-issuer half could ever cost a TokenReview or be shed.
    expect(shed).toBeLessThanOrEqual(GARBAGE / 2);
    expect(delta('pod_session_limit')).toBe(1);
    for (const s of extra) s.close();
    closeSlow();
  });
});
