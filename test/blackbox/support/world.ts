/**
 * The world most black-box files start from, set up once per file: a real issuer (its keys and
 * JWKS on 127.0.0.1), a recording upstream app and, when the file names one, a real
 * `tokenwarden sidecar` process in front of the app, ready before the first case. The hooks it
 * registers stop every sidecar the file started, then the app and the issuer.
 */
import { afterAll, beforeAll } from 'vitest';
import { startApp, type App } from './app.js';
import { startIssuer, type Issuer } from './issuer.js';
import { startSidecar, stopAllSidecars, waitReady, type Sidecar, type SidecarOptions } from './sidecar.js';

export interface Ground {
  issuer: Issuer;
  app: App;
}

export interface World extends Ground {
  sidecar: Sidecar;
}

/** The file's sidecar: its options but the upstream (the world's app), its policy from the issuer. */
export interface WorldSidecar extends Omit<SidecarOptions, 'upstream' | 'policyYaml'> {
  policy: (issuer: Issuer) => string;
}

/** Issuer and app only: the file starts its own sidecars (each stopped after the file). */
export function useWorld(): Ground;
/** Issuer, app and one ready sidecar. */
export function useWorld(sidecar: WorldSidecar): World;
export function useWorld(sidecar?: WorldSidecar): Ground | World {
  const world = {} as World;
  beforeAll(async () => {
    world.issuer = await startIssuer();
    world.app = await startApp();
    if (sidecar === undefined) return;
    const { policy, ...options } = sidecar;
    world.sidecar = await startSidecar({
      ...options,
      upstream: world.app.url,
      policyYaml: policy(world.issuer),
    });
    await waitReady(world.sidecar);
  });
  afterAll(async () => {
    await stopAllSidecars();
    await world.app?.close();
    await world.issuer?.close();
  });
  return world;
}
