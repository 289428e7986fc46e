/**
 * What both capture suites set up the same way: the built CLI and the ports and UID of a pod,
 * the skip (or, under CI, the failure) when this machine cannot make network namespaces, and a
 * world per suite: a work directory the sidecar's UID can read, an app log in it, the "pod" and
 * "client" namespaces, and the processes started in them, all removed after the suite.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { cannotRun, createNamespaces, type Namespaces } from './netns.js';

const ROOT = resolve(import.meta.dirname, '../..');
export const CLI = join(ROOT, 'dist/cmd/tokenwarden.js');
export const NODE = process.execPath;
export const APP_PORT = 8080;
export const SIDECAR_UID = '15080';

/** Why the capture suites cannot run here (printed), or undefined; under CI=true, an error instead. */
export async function skipReason(): Promise<string | undefined> {
  const reason = await cannotRun();
  if (reason) {
    const message = `capture tests skipped: ${reason}`;
    if (process.env.CI === 'true') throw new Error(`${message} (CI must run them)`);
    console.warn(`\n*** ${message} ***\n`);
  }
  return reason;
}

export interface CaptureWorld {
  ns: Namespaces;
  dir: string;
  /** An empty file in dir for the app to record its requests in. */
  appLog: string;
  /** Stops of the processes the suite started, run last first after the suite. */
  stops: (() => Promise<void>)[];
}

/** Registers the hooks of a suite's world; call inside the suite's describe. */
export function useCaptureWorld(
  dirPrefix: string,
  namespaces: Parameters<typeof createNamespaces>[0] = {},
): CaptureWorld {
  const world = { stops: [] as (() => Promise<void>)[] } as CaptureWorld;
  beforeAll(async () => {
    world.dir = mkdtempSync(join(tmpdir(), dirPrefix));
    chmodSync(world.dir, 0o755); // the sidecar (UID 15080) reads the policy file
    world.appLog = join(world.dir, 'app.log');
    writeFileSync(world.appLog, '');
    world.ns = await createNamespaces(namespaces);
  });
  afterAll(async () => {
    for (const stop of world.stops.reverse()) await stop().catch(() => undefined);
    await world.ns?.remove();
    if (world.dir) rmSync(world.dir, { recursive: true, force: true });
  });
  return world;
}
