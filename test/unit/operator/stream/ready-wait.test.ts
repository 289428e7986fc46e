/**
 * A stream request that arrives before the operator's caches are synced (an operator that just
 * started, every replica having been down) waits for them and is served the moment they are,
 * instead of being sent away for a Retry-After; past the bound it is a 503 not_ready as before.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { sleep, until } from '../../../support/wait.js';
import { openDuplex, serveStreams, type World } from './route-world.js';

let world: World | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

describe('a stream opened before the caches are synced', () => {
  it('waits, gets no answer meanwhile, and is served its snapshot once the hub starts', async () => {
    world = await serveStreams({ started: false, readyWaitMs: 10_000 });
    const { hub, port } = world;
    let answered = false;
    const opening = openDuplex(port).then((d) => ((answered = true), d));
    await until('the request waiting', () => hub.waitingForReady === 1);
    await sleep(100);
    expect(answered).toBe(false);
    hub.start();
    const d = await opening;
    expect(d.res.statusCode).toBe(200);
    await until('the snapshot', () => d.messages.length > 0);
    expect(d.messages[0]).toMatchObject({ type: 'snapshot' });
    expect(hub.waitingForReady).toBe(0);
    d.req.destroy();
  });

  it('past the bound: 503 not_ready with Retry-After, as before', async () => {
    world = await serveStreams({ started: false, readyWaitMs: 50 });
    const d = await openDuplex(world.port);
    expect(d.res.statusCode).toBe(503);
    expect(d.res.headers['retry-after']).toBe('1');
    d.req.destroy();
    expect(world.hub.waitingForReady).toBe(0);
    expect(await world.errors('not_ready')).toBe(1);
  });

  it('a peer that gives up while waiting opens no session when the hub starts', async () => {
    world = await serveStreams({ started: false, readyWaitMs: 10_000 });
    const { hub, port } = world;
    void openDuplex(port).catch(() => undefined);
    await until('the request waiting', () => hub.waitingForReady === 1);
    world.app.server.closeAllConnections();
    await sleep(50); // the server has seen the connection close
    hub.start();
    await sleep(50);
    expect(hub.sessions.size).toBe(0);
  });

  it('the same for a peer gone during its TokenReview', async () => {
    let answer = (): void => undefined;
    let inReview = false;
    world = await serveStreams({
      reviewed: new Promise<void>((r) => (answer = r)),
      onReview: () => (inReview = true),
    });
    void openDuplex(world.port).catch(() => undefined);
    await until('the request in review', () => inReview);
    world.app.server.closeAllConnections();
    await sleep(50);
    answer();
    await sleep(50);
    expect(world.hub.sessions.size).toBe(0);
  });

  it('the hub closing (shutdown) ends the wait with a 503', async () => {
    world = await serveStreams({ started: false, readyWaitMs: 10_000 });
    const { hub, port } = world;
    const opening = openDuplex(port);
    await until('the request waiting', () => hub.waitingForReady === 1);
    hub.close();
    const d = await opening;
    expect(d.res.statusCode).toBe(503);
    d.req.destroy();
  });
});
