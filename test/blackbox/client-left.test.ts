/**
 * A client that leaves after the decision and before its request is sent on is counted once,
 * as `client_closed`, and logged: the real sidecar (dist/), raw sockets in front, the recording
 * app behind. Before the fix such a request was counted nowhere: one queued for an upstream
 * connection was dropped silently when its turn came (or counted as `upstream_busy` if the wait
 * bound came first), and one whose body was still being read vanished. Its place in the queue
 * is also given up at once rather than when its turn comes.
 */
import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { metric } from './support/metrics.js';
import { policyDoc } from './support/policy.js';
import { sleep, waitFor } from '../support/wait.js';
import { useWorld } from './support/world.js';

const RULES = [
  { name: 'public', paths: ['/public/*'], action: 'Allow' as const },
  // The recording app answers /slow?ms=N after N ms.
  { name: 'slow', paths: ['/slow'], action: 'Allow' as const },
];

const world = useWorld({
  name: 'client-left',
  policy: (issuer) => policyDoc(issuer, { rules: RULES }),
  // A wait bound longer than the held requests: a queued request gets its turn, not a 503.
  args: ['--upstream-queue-timeout-ms', '20000'],
});

const total = (labels: Record<string, string> = {}) =>
  metric(world.sidecar.adminUrl, 'tokenwarden_requests_total', labels);

/** A raw connection that sends `data` and is closed by the test. */
function open(data: string, localAddress = '127.0.0.1'): Socket {
  const c = connect({ port: world.sidecar.proxyPort, host: '127.0.0.1', localAddress });
  c.on('error', () => undefined);
  c.resume(); // read (and drop) what the sidecar answers, so that its close is seen
  c.write(data);
  return c;
}

describe('a client that leaves before its request is forwarded', () => {
  it('while queued for an upstream connection: counted once as client_closed, logged, never sent', async () => {
    // Hold all 128 upstream connections with requests the app answers after 3 s.
    const before = world.app.receivedFor('/slow').length;
    const held = Array.from({ length: 128 }, (_, i) =>
      open(
        `GET /slow?ms=3000&i=${i} HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n`,
        `127.0.5.${1 + (i % 8)}`,
      ),
    );
    await waitFor(
      'all 128 upstream connections to be busy',
      () => world.app.receivedFor('/slow').length - before >= 128,
      15_000,
    );
    const [all, allow, closed, busy] = [
      await total(),
      await total({ decision: 'allow' }),
      await total({ reason: 'client_closed' }),
      await total({ reason: 'upstream_busy' }),
    ];
    const leaver = open('GET /public/left-in-queue HTTP/1.1\r\nhost: a\r\n\r\n');
    await sleep(300);
    leaver.destroy();
    // Counted when it leaves, not when its turn would have come (the held requests still run).
    await waitFor('the abandoned request to be counted', async () => (await total()) === all + 1, 2_000);
    expect(await total({ reason: 'client_closed' })).toBe(closed + 1);
    expect(await total({ decision: 'allow' })).toBe(allow);
    // The held requests (counted when they were sent) end, and the turn the leaver would have
    // had comes: nothing is counted a second time.
    await waitFor('the held requests to end', () => held.every((h) => h.closed || h.readableEnded), 15_000);
    await sleep(1_000);
    expect(await total()).toBe(all + 1);
    expect(await total({ decision: 'allow' })).toBe(allow);
    expect(await total({ reason: 'upstream_busy' })).toBe(busy);
    expect(world.app.receivedFor('/public/left-in-queue')).toHaveLength(0);
    expect(world.sidecar.logs()).toContain('client left before the request was forwarded');
    expect(world.sidecar.logs()).toContain('left-in-queue');
    held.forEach((h) => h.destroy());
  }, 60_000);

  it('while its body is being read: counted once as client_closed, never sent', async () => {
    const [all, closed] = [await total(), await total({ reason: 'client_closed' })];
    const c = open('POST /public/left-in-body HTTP/1.1\r\nhost: a\r\ncontent-length: 100\r\n\r\n0123456789');
    await sleep(300);
    c.destroy();
    await waitFor('the abandoned request to be counted', async () => (await total()) === all + 1, 5_000);
    expect(await total({ reason: 'client_closed' })).toBe(closed + 1);
    await sleep(1_500);
    expect(await total()).toBe(all + 1);
    expect(world.app.receivedFor('/public/left-in-body')).toHaveLength(0);
  }, 20_000);
});
